/**
 * No wake storms on the shared layer: a 1 -> 1 run across two threads (a producer worker
 * sending as fast as it can into a small channel under full 'wait', the main thread
 * receiving) counts its waits and notifies in `stats()`, and the counts are bounded by the
 * protocol (assembly/wake.ts), whatever the timing:
 * - a sender parks on a full channel and is woken only once the channel drained to half its
 *   capacity, so it sends at least capacity / 2 messages per park: its waits are at most
 *   2 * messages / capacity + 1 (without the low-water mark: about one per message);
 * - every notify spends a token that a park added: the notifies of the run are at most its
 *   waits (without tokens: one per push while the receiver is parked).
 * No time is asserted.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer, type WaitStrategy } from '../../dist/index.js';

const MESSAGES = 20_000;
const CAPACITY = 64;

function produce(workerData: unknown): Promise<{ waits: number; notifies: number }> {
  const worker = new Worker(new URL('./wake-producer.js', import.meta.url), { workerData });
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`wake-producer exited with code ${code} before reporting`)));
  });
}

describe('flow control with hysteresis (shared layer)', () => {
  // A slow receiver (some work per message) keeps the channel full, so the sender parks
  // often: the case where waking it on every pop would cost a wake-up per message.
  const cases: Array<[WaitStrategy, number, boolean]> = [
    ['park', 1, true],
    ['adaptive', 1, true],
    ['park', 16, true],
    ['park', 1, false],
  ];
  for (const [wait, batch, slow] of cases) {
    const how = `${batch > 1 ? `sendMany of ${batch}` : 'send'}, ${slow ? 'slow receive' : 'receiveMany'}`;
    it(`1 -> 1 across threads, wait '${wait}', ${how}: waits and notifies bounded by the messages`, async () => {
      const layer: SharedLayer = await createLayer({ capacity: CAPACITY, full: 'wait', wait, memory: 16 * 1024 * 1024 });
      const channel = `wake.${wait}.${batch}.${slow}`;
      const before = layer.stats();
      const producer = produce({ handle: layer.handle, channel, count: MESSAGES, batch });
      let next = 0;
      let disorder = 0;
      let work = 0;
      while (next < MESSAGES) {
        const got = slow ? [await layer.receive(channel)] : await layer.receiveMany(channel, { max: 1 + (next % 7) });
        for (const m of got) {
          if (m.s !== next) disorder++;
          next++;
          if (slow) for (let i = 0; i < 3000; i++) work = (work + Math.sqrt(i * next)) % 1e9;
        }
      }
      expect(work).toBeGreaterThanOrEqual(0);
      const sender = await producer;
      const receiver = layer.stats();
      expect(disorder).toBe(0);
      const receiverWaits = receiver.waits - before.waits;
      const receiverNotifies = receiver.notifies - before.notifies;
      // The sender: at least CAPACITY / 2 sends per park.
      expect(sender.waits).toBeLessThanOrEqual((2 * MESSAGES) / CAPACITY + 1);
      // Every notify answers one park of the other side (plus one left-over token each at most).
      expect(receiverNotifies).toBeLessThanOrEqual(sender.waits + 1);
      expect(sender.notifies).toBeLessThanOrEqual(receiverWaits + 1);
      await layer.close();
    }, 300_000);
  }
});
