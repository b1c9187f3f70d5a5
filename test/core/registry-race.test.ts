/**
 * Concurrent inserts and reclamation in the registry: four threads create the same fresh
 * channel names at the same moment, round after round, while the channels of earlier rounds
 * are emptied and reclaimed under them. A duplicate record for one name would strand a
 * message on the copy nobody receives from (a receive times out); a record reclaimed while in
 * use would lose or corrupt one. Every message must arrive exactly once.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';

const THREADS = 4;
const ROUNDS = 400;
const NAMES = 16;

describe('registry under concurrent inserts and reclamation', () => {
  it('keeps one record per name: every message of every round arrives exactly once', async () => {
    // A small registry, so that reclamation and slot reuse happen all the time.
    const layer: SharedLayer = await createLayer({ memory: 16 * 1024 * 1024, maxNames: 512 });
    const before = layer.memoryStats();
    const barrier = new SharedArrayBuffer(4);
    const results = await Promise.all(
      Array.from({ length: THREADS }, (_, id) => {
        const worker = new Worker(new URL('./registry-worker.js', import.meta.url), {
          workerData: { handle: layer.handle, id, rounds: ROUNDS, names: NAMES, threads: THREADS, barrier },
        });
        return new Promise<{ got: number[] }>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        });
      }),
    );
    // Each (round, name) got one message from each thread: THREADS receives saw THREADS
    // distinct senders.
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < NAMES; k++) {
        const senders = results.map((res) => res.got[r * NAMES + k]).sort();
        expect(senders).toEqual([0, 1, 2, 3]);
      }
    }
    layer.reclaim();
    const after = layer.memoryStats();
    expect(after.records).toBe(0);
    expect(after.freeBytes + after.pooledRecords * after.recordBytes).toBe(before.freeBytes);
    await layer.close();
  }, 120_000);
});
