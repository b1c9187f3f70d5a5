/**
 * The arena under concurrent use (assembly/arena.ts): several threads allocate and free blocks
 * of random sizes (small classes, large runs of pages) straight through the core, and every
 * block carries a pattern checked before it is freed, so blocks handed out twice or
 * overlapping are caught; the accounting is back at its start. Then threads are terminated
 * at random while they allocate: the main thread checks and frees what they had recorded in
 * hand, and the arena leaks at most one block per termination.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';
import { Core } from '../../dist/wasm/core.js';

const MiB = 1024 * 1024;
const WORKER = new URL('./alloc-worker.js', import.meta.url);

interface Result {
  allocs: number;
  frees: number;
  fails: number;
  bytes: number;
  errors: string[];
}

function run(layer: SharedLayer, data: Record<string, unknown>): { worker: Worker; done: Promise<Result> } {
  const { module, memory } = layer.handle;
  const worker = new Worker(WORKER, { workerData: { module, memory, ...data } });
  const done = new Promise<Result>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { worker, done };
}

describe('arena allocator', () => {
  it('never hands out overlapping blocks: 4 threads allocating and freeing random sizes', async () => {
    const layer: SharedLayer = await createLayer({ memory: 24 * MiB });
    const start = layer.memoryStats();
    const runs = [1, 2, 3, 4].map((seed) =>
      run(layer, { seed: seed * 7919, iterations: 40_000, maxLive: 300, maxSize: 300 * 1024 }),
    );
    const results = await Promise.all(runs.map((r) => r.done));
    for (const r of results) {
      expect(r.errors).toEqual([]);
      expect(r.allocs).toBeGreaterThan(10_000);
      expect(r.frees).toBe(r.allocs);
    }
    // The arena ran full now and then (large blocks): failures are refusals, never corruption.
    const end = layer.memoryStats();
    expect(end.freeBytes).toBe(start.freeBytes);
    layer.reclaim(); // retires the classes' current pages
    expect(layer.memoryStats()).toMatchObject({ freeBytes: start.freeBytes, largestFreeRun: start.largestFreeRun });
    await layer.close();
  });

  it('leaks at most one block per thread terminated while allocating', async () => {
    const layer: SharedLayer = await createLayer({ memory: 24 * MiB });
    const start = layer.memoryStats();
    const core = new Core(layer.handle.module, layer.handle.memory);
    const maxLive = 200;
    const maxSize = 64 * 1024;
    let kills = 0;
    const problems: string[] = [];
    for (let round = 0; round < 12; round++) {
      const tables = [0, 1, 2].map(() => new Int32Array(new SharedArrayBuffer(maxLive * 3 * 4)));
      const runs = tables.map((t, i) =>
        run(layer, { seed: round * 31 + i + 1, iterations: 1e9, maxLive, maxSize, table: t.buffer }),
      );
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 200));
      for (const r of runs) {
        await r.worker.terminate();
        kills++;
      }
      // What each victim recorded in hand is intact, and goes back.
      for (const t of tables) {
        for (let s = 0; s < maxLive; s++) {
          const h = t[s * 3] as number;
          if (h === 0) continue;
          const len = t[s * 3 + 1] as number;
          const tag = t[s * 3 + 2] as number;
          if (core.x.blockLength(h) !== len) problems.push(`block ${h}: length ${core.x.blockLength(h)} != ${len}`);
          else {
            const base = (h + 16) >> 2;
            for (let i = 0; i < len >> 2; i++) {
              if (core.i32[base + i] !== ((Math.imul(i + 1, 0x9e3779b1) ^ tag) | 0)) {
                problems.push(`block ${h}: word ${i} overwritten`);
                break;
              }
            }
          }
          core.x.release(h);
        }
      }
    }
    expect(problems).toEqual([]);
    layer.reclaim();
    const end = layer.memoryStats();
    const leaked = start.freeBytes - end.freeBytes;
    // A victim holds at most one block outside its table (allocated, not yet recorded; or
    // taken out, not yet freed), or the pages of a run it was claiming or freeing.
    const perKill = Math.ceil((maxSize + 16) / start.pageBytes) * start.pageBytes;
    expect(leaked).toBeGreaterThanOrEqual(0);
    expect(leaked).toBeLessThanOrEqual(kills * perKill);
    // And what is free is usable: a block of a quarter of the arena still fits.
    const h = core.x.allocScratch(Math.floor(start.freeBytes / 4));
    expect(h).not.toBe(0);
    core.x.release(h);
    console.log(`${kills} terminations while allocating: ${leaked} bytes leaked (bound ${kills * perKill})`);
    await layer.close();
  });
});
