/**
 * A worker terminated at an arbitrary moment (in the middle of receives and sends on the
 * bus) makes no other thread hang: the surviving consumer and the producer finish, every
 * message is delivered at most once, and at most the victim's one in-flight message is lost.
 * Repeated with several kill times so that the kill lands in different places.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';

const MESSAGES = 20_000;
const ROUNDS = 5;

function spawn(workerData: unknown): { worker: Worker; ready: Promise<void>; result: Promise<{ got: number }> } {
  const worker = new Worker(new URL('./terminate-worker.js', import.meta.url), { workerData });
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const result = new Promise<{ got: number }>((resolve, reject) => {
    worker.on('message', (m: { ready?: boolean; got: number }) => (m.ready ? onReady() : resolve(m)));
    worker.on('error', reject);
  });
  return { worker, ready, result };
}

describe('a terminated worker', () => {
  it('never makes another thread hang, and loses at most its in-flight message', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const layer: SharedLayer = await createLayer({ memory: 32 * 1024 * 1024, capacity: 512 });
      const seen = new Uint8Array(new SharedArrayBuffer(MESSAGES));
      const victim = spawn({ handle: layer.handle, role: 'victim', seen: seen.buffer, mark: 1 });
      const survivor = spawn({ handle: layer.handle, role: 'survivor', seen: seen.buffer, mark: 1 });
      await Promise.all([victim.ready, survivor.ready]);
      const killAt = 1000 + Math.floor(Math.random() * (MESSAGES / 2));
      let killed: Promise<number> | undefined;
      for (let s = 0; s < MESSAGES; s++) {
        for (;;) {
          try {
            await layer.send('work', { s });
            break;
          } catch (err) {
            if ((err as { code?: string }).code !== 'ERR_RINGBUS_CHANNEL_FULL') throw err;
            await new Promise((r) => setImmediate(r));
          }
        }
        // Keep the group member of the victim busy too (it is full soon: drops, never errors).
        if (s % 10 === 0) await layer.groupSend('terminate.group', { s });
        if (s === killAt) {
          killed = victim.worker.terminate();
        }
      }
      expect(killed).toBeDefined();
      await killed; // the victim is gone: the one end marker is the survivor's
      await layer.send('work', { end: true });
      const { got } = await survivor.result; // would hang here if the kill wedged the queue
      // The bus is fully usable afterwards: whole-bus operations, new channels, groups.
      expect(layer.stats().depths).toBeTypeOf('object');
      await layer.groupSend('terminate.group', { after: true });
      await layer.groupAdd('terminate.group', 'after.member');
      await layer.groupDiscard('terminate.group', 'victim.churn.1');
      await layer.send('victim.hot', { after: true }); // the victim's own channel is still usable
      expect(await layer.receive('victim.hot', { timeout: 5000 })).toBeTypeOf('object');
      await layer.send('fresh', { ok: 1 });
      expect(await layer.receive('fresh', { timeout: 5000 })).toEqual({ ok: 1 });
      await layer.flush();
      let missing = 0;
      let duplicated = 0;
      for (let s = 0; s < MESSAGES; s++) {
        if (seen[s] === 0) missing++;
        if (seen[s]! > 1) duplicated++;
      }
      expect(duplicated).toBe(0);
      expect(missing).toBeLessThanOrEqual(1);
      expect(got).toBeGreaterThan(0);
      await layer.close();
    }
  }, 120_000);
});
