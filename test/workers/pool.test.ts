/**
 * ringbus/pool: a piscina pool whose workers are attached to the bus, and ringbus/worker
 * inside its task file.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';
import { createPool } from '../../dist/pool.js';

const task = new URL('./pool-task.js', import.meta.url).href;

describe('createPool', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function setup(options: Record<string, unknown> = {}) {
    const layer: SharedLayer = await createLayer({ memory: 8 * 1024 * 1024 });
    const pool = createPool(layer, { filename: task, maxThreads: 2, minThreads: 1, ...options });
    cleanup.push(() => layer.close(), () => pool.destroy());
    return { layer, pool };
  }

  it('runs a task that receives from the bus and sends on it', async () => {
    const { layer, pool } = await setup();
    const running = pool.run({ op: 'relay', channel: 'jobs', reply: 'done' });
    await layer.send('jobs', { type: 'job', n: 7, bytes: new Uint8Array([1, 2]) });
    const answer = await layer.receive('done', { timeout: 10_000 });
    expect(answer).toMatchObject({ type: 'relayed', got: { type: 'job', n: 7, bytes: new Uint8Array([1, 2]) } });
    expect(await running).toBe(answer.threadId);
  });

  it('keeps worker event loops running between tasks by default (atomics disabled)', async () => {
    const { layer, pool } = await setup({ maxThreads: 1 });
    expect(await pool.run({ op: 'echo', channel: 'echo.in', reply: 'echo.out' })).toBe('started');
    // No task is running now; the worker's listen loop must still answer.
    for (let i = 0; i < 3; i++) {
      await layer.send('echo.in', { i });
      expect(await layer.receive('echo.out', { timeout: 10_000 })).toEqual({ echo: { i } });
    }
  });

  it("hands the caller's workerData to the task through ringbus/worker", async () => {
    const { pool } = await setup({ workerData: { tenant: 'a', limits: [1, 2] } });
    expect(await pool.run({ op: 'data' })).toEqual({ tenant: 'a', limits: [1, 2] });
  });

  it('refuses a layer without a shared-memory handle', async () => {
    const memory = await createLayer({ backend: 'memory' });
    expect(() => createPool(memory, { filename: task })).toThrow(TypeError);
    await memory.close();
  });
});
