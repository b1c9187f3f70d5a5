/**
 * The lifetime of a shared bus across threads: closing the creating layer shuts the bus down
 * (every wait of every instance rejects with LayerClosed, the threads end by themselves,
 * later attaches fail); the bus's options live in its shared memory (an edited handle cannot
 * disagree); instance slots of layers nobody closed come back (thread exit, collection,
 * watch), and running out of them is an error naming the real limit.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { attachLayer, createLayer, type SharedLayer, type SharedLayerHandle } from '../../dist/index.js';

const WORKER = new URL('./lifetime-worker.js', import.meta.url);

interface Run {
  worker: Worker;
  messages: unknown[];
  next(): Promise<any>;
  exit: Promise<number>;
}

function run(workerData: Record<string, unknown>): Run {
  const worker = new Worker(WORKER, { workerData });
  const messages: unknown[] = [];
  const waiting: Array<(m: unknown) => void> = [];
  worker.on('message', (m) => {
    const w = waiting.shift();
    if (w) w(m);
    else messages.push(m);
  });
  const exit = new Promise<number>((resolve) => worker.once('exit', resolve));
  worker.on('error', () => {}); // a worker that throws on purpose; its exit is what counts
  return {
    worker,
    messages,
    exit,
    next: () => (messages.length > 0 ? Promise.resolve(messages.shift()) : new Promise((r) => waiting.push(r))),
  };
}

const shutDown = expect.objectContaining({ ok: false, code: 'ERR_RINGBUS_LAYER_CLOSED' });

describe('closing the creating layer shuts the bus down', () => {
  for (const wait of ['park', 'spin', 'adaptive'] as const) {
    it(`rejects every pending wait of other threads with LayerClosed, and they end by themselves (wait: '${wait}')`, async () => {
      const layer = await createLayer({
        delivery: 'at-least-once',
        channelCapacity: { 'life.full': 1 },
        channelFull: { 'life.full': 'wait' },
      });
      // wait is per instance: the worker's handle may choose its own.
      const handle: SharedLayerHandle = { ...layer.handle, options: { ...layer.handle.options, wait } };
      const peer = run({ handle, role: 'waiters' });
      expect(await peer.next()).toEqual({ ready: true });
      await new Promise((r) => setTimeout(r, 100)); // let the waits park
      await layer.close();
      const { results, later, attach, closed } = await peer.next();
      expect(results).toEqual([shutDown, shutDown, shutDown, shutDown, shutDown]);
      expect(results[0].message).toContain('the bus was shut down');
      expect(later).toEqual(shutDown);
      expect(attach).toEqual(shutDown);
      expect(closed).toBe(true);
      expect(await peer.exit).toBe(0); // nothing kept the worker alive
    });
  }

  it('refuses later attaches in any thread, and the creator\'s own later calls', async () => {
    const layer = await createLayer();
    const other = attachLayer(layer.handle);
    const pending = other.receive('life.main');
    await layer.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_RINGBUS_LAYER_CLOSED' });
    await expect(other.send('life.main', { a: 1 })).rejects.toMatchObject({ code: 'ERR_RINGBUS_LAYER_CLOSED' });
    expect(other.closed).toBe(true);
    expect(() => attachLayer(layer.handle)).toThrow(/attachLayer is not possible \(the bus was shut down/);
    await expect(layer.send('life.main', { a: 1 })).rejects.toMatchObject({ code: 'ERR_RINGBUS_LAYER_CLOSED' });
    const peer = run({ handle: layer.handle, role: 'attach' });
    expect(await peer.next()).toMatchObject({ ok: false, code: 'ERR_RINGBUS_LAYER_CLOSED' });
  });

  it('closing an attached instance does not shut the bus down', async () => {
    const layer = await createLayer();
    const other = attachLayer(layer.handle);
    await other.close();
    await layer.send('life.still', { a: 1 });
    expect(await attachLayer(layer.handle).receive('life.still', { timeout: 5000 })).toEqual({ a: 1 });
    await layer.close();
  });
});

describe('the bus options live in the shared memory', () => {
  it('refuses a handle whose bus-wide options were edited, naming the option', async () => {
    const layer = await createLayer({ capacity: 2 });
    const edited = { ...layer.handle, options: { ...layer.handle.options, capacity: 1000, full: 'drop-oldest' as const } };
    expect(() => attachLayer(edited)).toThrow(/the handle says capacity: 1000 but the bus was created with capacity: 2/);
    const peer = run({ handle: edited, role: 'attach' });
    expect(await peer.next()).toMatchObject({ ok: false, code: 'ERR_RINGBUS_LAYOUT_MISMATCH' });
    const patterned = { ...layer.handle, options: { ...layer.handle.options, channelCapacity: { 'a.*': 5 } } };
    expect(() => attachLayer(patterned)).toThrow(/channelCapacity/);
    await layer.close();
  });

  it('reads them from the bus when the handle carries none, and applies them', async () => {
    const layer = await createLayer({ capacity: 2, expiry: 0.25, channelCapacity: [[/^big\./, 5]] });
    const bare = attachLayer({ module: layer.handle.module, memory: layer.handle.memory } as SharedLayerHandle);
    await bare.send('c', { n: 1 });
    await bare.send('c', { n: 2 });
    await expect(bare.send('c', { n: 3 })).rejects.toMatchObject({ code: 'ERR_RINGBUS_CHANNEL_FULL', capacity: 2 });
    for (let i = 0; i < 5; i++) await bare.send('big.one', { i });
    await expect(bare.send('big.one', { i: 5 })).rejects.toMatchObject({ capacity: 5 });
    await new Promise((r) => setTimeout(r, 400)); // past the bus's expiry, which the bare handle never said
    await expect(layer.receive('c', { timeout: 0 })).rejects.toMatchObject({ code: 'ERR_RINGBUS_TIMEOUT' });
    // The same options spelled out (defaults included) are the same options.
    const spelled = { ...layer.handle, options: { ...layer.handle.options, groupExpiry: 86400, maxNames: 131072 } };
    expect(() => attachLayer(spelled)).not.toThrow();
    await layer.close();
  });
});

async function instances(layer: SharedLayer): Promise<number> {
  return layer.memoryStats().instances;
}

describe('instance slots of layers nobody closed come back', () => {
  for (const end of ['end', 'exit', 'throw'] as const) {
    it(`when a plain (unwatched) worker ${end === 'end' ? 'ends' : end === 'exit' ? 'calls process.exit' : 'crashes'}`, async () => {
      const layer = await createLayer({ delivery: 'at-least-once', leaseTimeout: 600_000 });
      const start = await instances(layer);
      await layer.send('life.leaked', { job: 1 });
      const peer = run({ handle: layer.handle, role: 'leak', count: 20, end, lease: true });
      expect((await peer.next()).attached).toBe(start + 20);
      await peer.exit;
      expect(await instances(layer)).toBe(start);
      // The lease its never-closed layer held came back at once, not after leaseTimeout.
      expect(layer.memoryStats().leases).toBe(0);
      expect(await layer.receive('life.leaked', { timeout: 5000 })).toEqual({ job: 1 });
      await layer.close();
    });
  }

  it('when the layers were collected and the thread exits before their finalizers run', async () => {
    const layer = await createLayer();
    const start = await instances(layer);
    const peer = run({ handle: layer.handle, role: 'collected-exit', count: 20 });
    expect(await peer.next()).toEqual({ collected: true });
    expect(await peer.exit).toBe(0);
    expect(await instances(layer)).toBe(start);
    await layer.close();
  });

  for (const delivery of ['at-most-once', 'at-least-once'] as const) it(`when a layer object is garbage-collected without close() (${delivery})`, async () => {
    const layer = await createLayer({ delivery });
    const start = await instances(layer);
    const peer = run({ handle: layer.handle, role: 'collect', count: 50 });
    const { before, peak, after } = await peer.next();
    expect(peak).toBe(before + 50);
    expect(after).toBe(before);
    await peer.exit;
    expect(await instances(layer)).toBe(start);
    await layer.close();
  });

  it('when a terminated worker is watched', async () => {
    const layer = await createLayer();
    const start = await instances(layer);
    const peer = run({ handle: layer.handle, role: 'leak', count: 10, end: 'stay' });
    const watched = layer.watch(peer.worker);
    expect((await peer.next()).attached).toBe(start + 10);
    await peer.worker.terminate();
    await watched;
    expect(await instances(layer)).toBe(start);
    await layer.close();
  });

  it('many exited workers in a row hold no slots, and running out names the instance slots', async () => {
    const layer = await createLayer({ delivery: 'at-least-once' });
    const start = await instances(layer);
    for (let round = 0; round < 8; round++) {
      const peers = Array.from({ length: 4 }, () => run({ handle: layer.handle, role: 'leak', count: 16, end: 'end' }));
      await Promise.all(peers.map((p) => p.exit));
    }
    expect(await instances(layer)).toBe(start);
    // Exhaust the table in this thread: the error names the limit and how to free slots.
    const held: SharedLayer[] = [];
    let error: unknown;
    try {
      for (let i = 0; i < 5000; i++) held.push(attachLayer(layer.handle));
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'ERR_RINGBUS_OUT_OF_MEMORY', region: 'instances' });
    expect(String((error as Error).message)).toMatch(/all 4096 instance slots of this bus are taken.*close\(\).*watch\(worker\)/);
    expect(held.length).toBe(4096 - start);
    await Promise.all(held.splice(0, 10).map((l) => l.close()));
    held.push(attachLayer(layer.handle)); // a closed layer's slot is free again
    await Promise.all(held.map((l) => l.close()));
    expect(await instances(layer)).toBe(start);
    await layer.close();
  }, 120_000);
});
