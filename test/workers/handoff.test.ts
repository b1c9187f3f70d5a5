/**
 * Handing the bus to a worker: one workerData shape ({ ringbus: handle, ...fields }, built by
 * workerData()), attachLayer() with no argument in the worker, the same shapes accepted
 * explicitly, a TypeError that says what to pass for anything else, and a layer that refuses
 * to be cloned with a message that says what to do.
 */
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { attachLayer, createLayer, workerData, LayoutMismatch, type SharedLayer } from '../../dist/index.js';

const layer: SharedLayer = await createLayer({ memory: 4 * 1024 * 1024 });
afterAll(() => layer.close());

/** Runs `source` (an ES module) in a worker with `data` as workerData; resolves with its exit code. */
function runWorker(source: string, data: unknown): Promise<number> {
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), { workerData: data });
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', resolve);
  });
}

const entry = new URL('../../dist/index.js', import.meta.url).href;
const workerEntry = new URL('../../dist/worker.js', import.meta.url).href;

describe('handing the bus to a worker', () => {
  it('workerData(layer, fields) puts the handle next to the fields', () => {
    const data = workerData(layer, { id: 3, results: 'r' });
    expect(data).toEqual({ id: 3, results: 'r', ringbus: layer.handle });
    expect(workerData(layer)).toEqual({ ringbus: layer.handle });
    expect(() => workerData(layer, { ringbus: 1 } as never)).toThrow(/'ringbus' is where the bus handle goes/);
    expect(() => workerData(layer, new Map() as never)).toThrow(/a Map instance; expected a plain object/);
  });

  it('attachLayer() with no argument attaches to the bus in workerData, and the fields are there', async () => {
    const code = await runWorker(
      `import { attachLayer } from ${JSON.stringify(entry)};
       import { workerData } from 'node:worker_threads';
       const bus = attachLayer();
       await bus.send('handoff.plain', { id: workerData.id });
       await bus.close();`,
      workerData(layer, { id: 41 }),
    );
    expect(code).toBe(0);
    expect(await layer.receive('handoff.plain', { timeout: 10_000 })).toEqual({ id: 41 });
  });

  it('ringbus/worker reads the same shape: workerLayer, and workerData without the handle', async () => {
    const code = await runWorker(
      `import { workerLayer, workerData } from ${JSON.stringify(workerEntry)};
       await workerLayer.send('handoff.module', { fields: workerData });
       await workerLayer.close();`,
      workerData(layer, { tenant: 'a' }),
    );
    expect(code).toBe(0);
    expect(await layer.receive('handoff.module', { timeout: 10_000 })).toEqual({ fields: { tenant: 'a' } });
  });

  it('attachLayer(x) accepts a handle, { ringbus: handle, ... } and a shared layer', async () => {
    for (const source of [layer.handle, workerData(layer, { id: 1 }), layer]) {
      const attached = attachLayer(source);
      await attached.send('handoff.same', { ok: true });
      expect(await layer.receive('handoff.same', { timeout: 1000 })).toEqual({ ok: true });
      await attached.close();
    }
  });

  it('anything else is a TypeError that says to pass layer.handle', async () => {
    const memory = await createLayer({ backend: 'memory' });
    expect(() => attachLayer(memory as never)).toThrow(TypeError);
    expect(() => attachLayer(memory as never)).toThrow(/a MemoryLayer instance has no handle; only a layer of the shared backend/);
    expect(() => attachLayer({ handle: layer.handle } as never)).toThrow(/under 'handle' there.*pass layer\.handle/);
    for (const bad of [null, 5, 'handle', {}, { ringbus: 1 }]) {
      expect(() => attachLayer(bad as never)).toThrow(TypeError);
      expect(() => attachLayer(bad as never)).toThrow(/pass layer\.handle \(or/);
    }
    expect(() => attachLayer()).toThrow(/this is the main thread; pass layer\.handle/);
    // A handle-shaped object whose contents are wrong is still a LayoutMismatch (a real handle of another build).
    expect(() => attachLayer({ ...layer.handle, module: {} as never })).toThrow(LayoutMismatch);
    await memory.close();
  });

  it('a layer given as workerData fails to clone with a message that says what to pass', async () => {
    const memory = await createLayer({ backend: 'memory' });
    for (const l of [layer, memory]) {
      expect(() => new Worker('0', { eval: true, workerData: l })).toThrow(/cannot be cloned into another thread: pass layer\.handle/);
      expect(() => structuredClone(l)).toThrow(/pass layer\.handle, or workerData\(layer, fields\)/);
    }
    await memory.close();
  });
});
