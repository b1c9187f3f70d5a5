/**
 * Reaping a thread that was terminated inside `release` (assembly/queue.ts `releaseOwned`,
 * arena.ts `freeBlock`): the reaper frees the message the dead instance had in hand exactly
 * once, or leaks it, but never frees a block a second time that is already back on its page's
 * free list (which would hand it out twice: two messages in one block).
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';
import { Core } from '../../dist/wasm/core.js';

const WORKER = new URL('./reap-release-worker.js', import.meta.url);
const LEN = 200; // one size class: the victims and the checks share its pages
const ROUNDS = 60;

describe('reaping a thread killed while releasing', () => {
  it('never frees a block twice (no block handed out twice afterwards)', async () => {
    const layer: SharedLayer = await createLayer({ memory: 8 * 1024 * 1024 });
    const core = new Core(layer.handle.module, layer.handle.memory);
    const { module, memory } = layer.handle;
    const start = layer.memoryStats();
    const problems: string[] = [];
    let kills = 0;
    for (let round = 0; round < ROUNDS && problems.length === 0; round++) {
      const victims = [0, 1].map(() => {
        const worker = new Worker(WORKER, { workerData: { module, memory, len: LEN } });
        const id = new Promise<number>((resolve, reject) => {
          worker.once('message', (m: { id: number }) => resolve(m.id));
          worker.once('error', reject);
        });
        return { worker, id };
      });
      const ids = await Promise.all(victims.map((v) => v.id));
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 30));
      for (const v of victims) {
        await v.worker.terminate();
        kills++;
      }
      for (const id of ids) core.x.instanceFree(id, 1); // the reaper (layer.watch does this at exit)
      // Every block of the class that is handed out now is a different block.
      const got = new Set<number>();
      const blocks: number[] = [];
      try {
        for (let k = 0; k < 64; k++) {
          const h = core.x.allocScratch(LEN);
          if (h === 0 || h % 8 !== 0) problems.push(`round ${round}: allocation ${k} gave block ${h}`);
          else if (got.has(h)) problems.push(`round ${round}: block ${h} handed out twice`);
          got.add(h);
          blocks.push(h);
        }
      } catch (err) {
        problems.push(`round ${round}: the allocator trapped (a corrupt free list): ${String(err)}`);
      }
      for (const h of blocks) if (!problems.length) core.x.release(h);
    }
    expect(problems).toEqual([]);
    // Each victim leaks at most its block in hand (or one reservation of its page): never
    // less than nothing, which a double free would show as more free bytes than at the start.
    layer.reclaim();
    const leaked = start.freeBytes - layer.memoryStats().freeBytes;
    expect(leaked).toBeGreaterThanOrEqual(0);
    expect(leaked).toBeLessThanOrEqual(kills * 256);
    await layer.close();
  }, 300_000);
});
