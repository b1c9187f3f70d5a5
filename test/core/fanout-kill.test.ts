/**
 * The decode cache (`frozenMessages`, assembly/fanout.ts) under worker kills: workers drain
 * members of group sends and are terminated at random moments (inside receives, copies,
 * cache keeps and drops); each is reaped (`watch`), the main thread drains what is left, and
 * the arena's free bytes are back at their start after every round: no cached reference
 * leaked, none given back twice.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';

const MEMBERS = 40;
const ROUNDS = 8;
const WORKERS = 3;
const members = Array.from({ length: MEMBERS }, (_, i) => `kill.m${i}`);

describe('decode cache under worker kills', () => {
  it(
    'gives back every cached block of killed threads once they are reaped',
    async () => {
      const layer: SharedLayer = await createLayer({ memory: 16 * 1024 * 1024, capacity: 10_000, frozenMessages: true });
      for (const m of members) await layer.groupAdd('kill', m);
      const start = layer.memoryStats().freeBytes;
      for (let round = 0; round < ROUNDS; round++) {
        for (let s = 0; s < 200; s++) await layer.groupSend('kill', { s, pad: 'x'.repeat(s % 300) });
        const victims = Array.from({ length: WORKERS }, (_, w) => {
          const mine = members.filter((_, i) => i % WORKERS === w);
          const worker = new Worker(new URL('./fanout-kill-worker.js', import.meta.url), { workerData: { handle: layer.handle, members: mine } });
          const reaped = layer.watch(worker);
          const ready = new Promise<void>((resolve, reject) => {
            worker.once('message', () => resolve());
            worker.once('error', reject);
          });
          return { worker, reaped, ready };
        });
        await Promise.all(victims.map((v) => v.ready));
        await Promise.all(
          victims.map(async (v) => {
            await new Promise((r) => setTimeout(r, Math.random() * 40));
            await v.worker.terminate();
            await v.reaped;
          }),
        );
        for (const m of members) {
          for (;;) {
            try {
              await layer.receive(m, { timeout: 0 });
            } catch {
              break;
            }
          }
        }
        // This instance's own cache gives its blocks back within a tick or two.
        for (let i = 0; i < 100 && layer.memoryStats().freeBytes !== start; i++) await new Promise((r) => setTimeout(r, 50));
        expect(layer.memoryStats().freeBytes, `round ${round}`).toBe(start);
      }
      await layer.close();
    },
    300_000,
  );
});
