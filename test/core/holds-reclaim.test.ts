/**
 * Instance-held pins (assembly/holds.ts) with concurrent reclamation: producer and consumer
 * threads use rotating channels through cached records (held while hot), the channels go idle
 * between uses, and the main thread reclaims the whole registry again and again meanwhile
 * (asking every instance to drop its holds), so records are reclaimed and reused while other
 * threads still hold cached references to them. Every message is checked by producer and
 * sequence number; at the end the accounting is back at its start.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';

const PRODUCERS = 2;
const ROUNDS = 120;
const PER_ROUND = 40;
const SLOTS = 6;

interface Report {
  sent?: number;
  received?: number;
  maxHolds: number;
  errors: string[];
}

function run(workerData: unknown): { result: Promise<Report>; ready: Promise<void> } {
  const worker = new Worker(new URL('./holds-worker.js', import.meta.url), { workerData });
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const result = new Promise<Report>((resolve, reject) => {
    worker.on('message', (m: { ready?: boolean } & Report) => (m.ready ? onReady() : resolve(m)));
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`holds-worker exited with code ${code} before reporting`)));
  });
  return { result, ready };
}

describe('instance-held pins', () => {
  it(
    'deliver every message once and in order while idle channels are reclaimed under cached references',
    async () => {
      const layer: SharedLayer = await createLayer({ memory: 64 * 1024 * 1024, capacity: 100_000 });
      const start = layer.memoryStats();
      const common = { handle: layer.handle, producers: PRODUCERS, rounds: ROUNDS, perRound: PER_ROUND, slots: SLOTS };
      const consumer = run({ ...common, role: 'consumer', id: 0 });
      await consumer.ready;
      const producers = Array.from({ length: PRODUCERS }, (_, id) => run({ ...common, role: 'producer', id }));
      let done = false;
      const all = Promise.all([consumer.result, ...producers.map((p) => p.result)]).finally(() => (done = true));
      let reclaimed = 0;
      while (!done) {
        reclaimed += layer.reclaim();
        await new Promise((r) => setTimeout(r, 5));
      }
      const [c, ...ps] = await all;
      expect(c.errors).toEqual([]);
      expect(c.received).toBe(PRODUCERS * ROUNDS * PER_ROUND);
      for (const p of ps) expect(p.sent).toBe(ROUNDS * PER_ROUND);
      // The paths under test ran: holds were taken, and records were reclaimed meanwhile.
      expect(Math.max(c.maxHolds, ...ps.map((p) => p.maxHolds))).toBeGreaterThan(0);
      expect(reclaimed).toBeGreaterThan(0);
      expect(layer.stats().depths).toEqual({});
      layer.reclaim();
      const end = layer.memoryStats();
      expect({ free: end.freeBytes, records: end.records }).toEqual({ free: start.freeBytes, records: start.records });
      await layer.close();
    },
    300_000,
  );
});
