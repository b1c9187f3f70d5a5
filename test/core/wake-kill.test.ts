/**
 * Reaping a thread that was terminated while waking a parked receiver after a send
 * (assembly/wake.ts runs loops, and V8 can stop a thread at any loop or call): the wake must
 * come after the sender forgot the message as in hand (index.ts `send`). Before that order was
 * fixed, a kill inside the wake left a QUEUED message in the dead sender's in-hand word, the
 * reaper freed it under the queue, and the block was handed out again while still queued.
 * Checked here: after each reap, no block the allocator hands out is one still queued, and
 * every queued message is intact and queued once.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';
import { BLOCK_HEADER, Core, FULL_CODES, KIND_CHANNEL } from '../../dist/wasm/core.js';

const WORKER = new URL('./wake-kill-worker.js', import.meta.url);
const LEN = 200; // one size class: the victims' messages and the checks share its pages
const ROUNDS = 80;
const MAGIC = 0xf6f6_0001;

describe('reaping a thread killed while waking a receiver', () => {
  it('never frees a message that is still queued', async () => {
    const layer: SharedLayer = await createLayer({ memory: 8 * 1024 * 1024 });
    const core = new Core(layer.handle.module, layer.handle.memory);
    const x = core.x;
    const { module, memory } = layer.handle;
    const u32 = new Uint32Array(memory.buffer);
    const name = new TextEncoder().encode('f6.wake.kill');
    const at = x.allocScratch(name.length);
    new Uint8Array(memory.buffer).set(name, at + BLOCK_HEADER);
    const r = x.lookup(KIND_CHANNEL, at + BLOCK_HEADER, name.length, 1, 64, FULL_CODES.wait, 0); // stays pinned
    expect(r).toBeGreaterThan(0);
    const gen = x.lastGen();
    const start = layer.memoryStats();
    const problems: string[] = [];
    let kills = 0;
    for (let round = 0; round < ROUNDS && problems.length === 0; round++) {
      const victims = [0, 1].map(() => {
        const worker = new Worker(WORKER, { workerData: { module, memory, r, gen, len: LEN, magic: MAGIC } });
        const id = new Promise<number>((resolve, reject) => {
          worker.once('message', (m: { id: number }) => resolve(m.id));
          worker.once('error', reject);
        });
        return { worker, id };
      });
      const ids = await Promise.all(victims.map((v) => v.id));
      await new Promise((res) => setTimeout(res, 5 + Math.random() * 30));
      for (const v of victims) {
        await v.worker.terminate();
        kills++;
      }
      for (const id of ids) core.x.instanceFree(id, 1); // the reaper (layer.watch does this at exit)
      // Blocks handed out now are free blocks: none may still sit in the channel.
      const scratch = new Set<number>();
      try {
        for (let k = 0; k < 64; k++) {
          const h = x.allocScratch(LEN);
          if (h === 0) break;
          u32[(h + BLOCK_HEADER) >> 2] = 0;
          scratch.add(h);
        }
      } catch (err) {
        problems.push(`round ${round}: the allocator trapped (a corrupt free list): ${String(err)}`);
        break;
      }
      const queued = new Set<number>();
      for (;;) {
        const h = x.recv(r, gen, 0);
        if (h === 0) break;
        if (h === 1) {
          problems.push(`round ${round}: the channel record went stale`);
          break;
        }
        if (scratch.has(h)) problems.push(`round ${round}: queued message ${h} was also handed out as a free block`);
        if (queued.has(h)) problems.push(`round ${round}: message ${h} queued twice`);
        if (u32[(h + BLOCK_HEADER) >> 2] !== MAGIC || u32[(h + BLOCK_HEADER + 4) >> 2] !== h) {
          problems.push(`round ${round}: queued message ${h} was overwritten`);
        }
        queued.add(h);
        x.release(h);
      }
      for (const h of scratch) x.release(h);
    }
    expect(problems).toEqual([]);
    expect(kills).toBeGreaterThan(0);
    // Each victim leaks at most the block it had in hand (or one page reservation): never
    // a negative leak, which a message freed twice (under the queue, then by its receiver) shows.
    layer.reclaim();
    expect(start.freeBytes - layer.memoryStats().freeBytes).toBeGreaterThanOrEqual(0);
    await layer.close();
  }, 600_000);
});
