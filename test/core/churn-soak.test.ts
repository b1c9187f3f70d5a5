/**
 * Soak: churn of short-lived clients across worker threads (newChannel per client, rooms
 * joined and left, messages of mixed sizes from 0 B to a quarter of maxMessageSize, backlogs
 * drained or abandoned to expiry). It ends with the accounting back at exactly its start and
 * every size allocatable, maxMessageSize included: the arena does not fragment for good,
 * and reclaimed records and rings come back to it.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';
import { encode } from '../../dist/codec.js';

const MiB = 1024 * 1024;
const WORKER = new URL('./churn-soak-worker.js', import.meta.url);

interface Result {
  sent: number;
  received: number;
  refused: number;
  abandoned: number;
  errors: string[];
}

function messageOf(size: number): { b: Uint8Array } {
  for (let n = size; n >= 0; n--) if (encode({ b: new Uint8Array(n) }).length === size) return { b: new Uint8Array(n).fill(9) };
  throw new Error(`no message encodes to ${size} bytes`);
}

describe('churn soak', () => {
  it('3 threads of short-lived clients: memory comes back exactly, and every size fits afterwards', async () => {
    const maxMessageSize = MiB;
    const layer: SharedLayer = await createLayer({ memory: 64 * MiB, maxMessageSize, expiry: 0.5, groupExpiry: 1 });
    const start = layer.memoryStats();
    const workers = [0, 1, 2].map(
      (id) =>
        new Worker(WORKER, {
          workerData: { handle: layer.handle, id, rounds: 1500, maxSize: maxMessageSize / 4, rooms: 5 },
        }),
    );
    const results = await Promise.all(
      workers.map(
        (w) =>
          new Promise<Result>((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
    let sent = 0;
    for (const r of results) {
      expect(r.errors).toEqual([]);
      expect(r.abandoned).toBeGreaterThan(100);
      sent += r.sent;
    }
    expect(sent).toBeGreaterThan(3000);
    const during = layer.memoryStats();
    expect(during.records).toBeGreaterThan(start.records); // abandoned clients and rooms still there

    // Once backlogs and memberships expired, a reclaim gives every byte back.
    await new Promise((r) => setTimeout(r, 1200));
    layer.reclaim();
    const end = layer.memoryStats();
    const pick = (m: typeof start) => ({
      freeBytes: m.freeBytes,
      freePages: m.freePages,
      largestFreeRun: m.largestFreeRun,
      records: m.records,
      pooledRecords: m.pooledRecords,
      names: m.names,
      instances: m.instances,
    });
    expect(pick(end)).toEqual(pick(start));

    for (const size of [0, 8, 1000, 4096, 8000, 16_384, 64 * 1024, 300_000, maxMessageSize]) {
      const m = size === 0 ? {} : messageOf(size);
      await layer.send('after', m);
      expect(await layer.receive('after', { timeout: 0 })).toEqual(m);
    }
    layer.reclaim();
    expect(pick(layer.memoryStats())).toEqual(pick(start));
    console.log(
      `churn: ${sent} direct messages, ${results.reduce((a, r) => a + r.abandoned, 0)} clients abandoned, ` +
        `${results.reduce((a, r) => a + r.refused, 0)} refusals; peak records ${during.records}`,
    );
    await layer.close();
  });
});
