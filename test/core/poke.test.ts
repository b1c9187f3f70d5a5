/**
 * Same-thread wake-ups of the shared layer (src/layers/shared/park.ts, pokes): a delivery
 * made in the receiver's own thread (the hybrid router's deliverEncoded) pokes the receiver
 * parked there, which re-checks at once instead of waiting for V8's wake-up task. The poked
 * receiver's waitAsync may stay in V8's list; if it were left there, it would swallow the
 * next notify meant for another parked receiver, which would then wait forever. Here a
 * worker parks on the channel first, the main thread parks second, and two deliveries from
 * the main thread must reach both of them, whoever takes the first.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLayer, encode, type SharedLayer } from '../../dist/index.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('same-thread wake-ups (shared layer)', () => {
  for (const round of [0, 1, 2]) {
    it(`a poked receiver leaves no stale waiter behind: both parked receivers get a message (round ${round})`, async () => {
      const layer = (await createLayer({ wait: 'park', memory: 8 * 1024 * 1024 })) as SharedLayer;
      const channel = `poke.${round}`;
      const worker = new Worker(new URL('./poke-receiver.js', import.meta.url), { workerData: { handle: layer.handle, channel } });
      const replies: Array<{ parking?: boolean; got?: number; error?: string }> = [];
      const got = new Promise<{ got?: number; error?: string }>((resolve, reject) => {
        worker.on('message', (m) => {
          replies.push(m);
          if (!m.parking) resolve(m);
        });
        worker.once('error', reject);
      });
      try {
        while (replies.length === 0) await sleep(5);
        await sleep(100); // the worker is parked by now
        // No timeouts: a receiver whose wake-up was swallowed would wait forever (a timeout's
        // last attempt would hide the lost wake-up).
        const mine = layer.receive(channel);
        mine.catch(() => undefined); // rejected by close() if it never gets its message
        await sleep(20);
        layer.deliverEncoded([channel], encode({ n: 1 }), Date.now());
        await sleep(50);
        layer.deliverEncoded([channel], encode({ n: 2 }), Date.now());
        const both = Promise.all([mine, got]);
        const outcome = await Promise.race([both, sleep(4000).then(() => 'a receiver was never woken' as const)]);
        expect(outcome).not.toBe('a receiver was never woken');
        const [m, theirs] = await both;
        expect(theirs.error).toBeUndefined();
        expect([m.n, theirs.got].sort()).toEqual([1, 2]);
      } finally {
        await worker.terminate();
        await layer.close();
      }
    });
  }
});
