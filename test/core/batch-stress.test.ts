/**
 * Multi-thread stress of the batched and synchronous calls on the shared layer: 3 producer
 * threads (sendMany in batches of 1..64, trySend now and then) and 3 consumer threads
 * (receiveMany with a random max, tryReceive drains), 3 channels each served by 2 consumers:
 * one under full 'wait' (batches wait for room), one under 'reject' (batches stop part-way
 * and resume from `err.sent`), and a 'reject' channel of capacity 1 (trySend mostly false). Every
 * message carries producer id, sequence number and a CRC32 of its payload. Checked: the
 * exact count, no message lost or duplicated or corrupted, order per producer per channel,
 * and every arena byte back at the end.
 */
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';
import { runWorker } from './run-worker.js';

const PRODUCERS = 3;
const CONSUMERS = 3;
const PER_PRODUCER = 40_000;
const CHANNELS = ['bstress.wait', 'bstress.reject', 'bstress.tiny'];

const run = <T>(file: string, workerData: unknown) => runWorker<T>(new URL(file, import.meta.url), workerData);

describe('batched calls across threads under stress', () => {
  it(
    `moves ${(PRODUCERS * PER_PRODUCER).toLocaleString('en')} messages in batches between ${PRODUCERS} producer and ${CONSUMERS} consumer threads intact`,
    async () => {
      const layer: SharedLayer = await createLayer({
        memory: 128 * 1024 * 1024,
        capacity: 256,
        channelCapacity: { 'bstress.tiny': 1 },
        channelFull: { 'bstress.wait': 'wait' },
      });
      for (const ch of CHANNELS) {
        await layer.send(ch, { warm: true });
        await layer.receive(ch);
      }
      const baseline = layer.memoryStats().freeBytes;
      const consumers = Array.from({ length: CONSUMERS }, (_, i) =>
        run<{ received: number; calls: number; errors: string[]; seen: Uint8Array[] }>('./batch-consumer.js', {
          handle: layer.handle,
          channels: [CHANNELS[i % CHANNELS.length], CHANNELS[(i + 1) % CHANNELS.length]],
          producers: PRODUCERS,
          perProducer: PER_PRODUCER,
          seed: 0x85ebca6b ^ (i * 104729) ^ Date.now(),
        }),
      );
      await Promise.all(consumers.map((c) => c.ready));
      const producers = Array.from({ length: PRODUCERS }, (_, id) =>
        run<{ sent: number; batches: number; partial: number; tryFalse: number }>('./batch-producer.js', {
          handle: layer.handle,
          id,
          count: PER_PRODUCER,
          channels: CHANNELS,
          seed: 0x9e3779b9 ^ (id * 7919) ^ Date.now(),
        }),
      );
      const sent = await Promise.all(producers.map((p) => p.result));
      // FIFO: the end markers queue behind every data message; two consumers serve each channel.
      // The tiny channel holds one message: its markers wait for room.
      for (const ch of CHANNELS) {
        for (let k = 0; k < 2; k++) {
          for (;;) {
            if (layer.trySend(ch, { end: true })) break;
            await new Promise((r) => setTimeout(r, 1));
          }
        }
      }
      const reports = await Promise.all(consumers.map((c) => c.result));

      expect(reports.flatMap((r) => r.errors)).toEqual([]);
      expect(sent.reduce((n, s) => n + s.sent, 0)).toBe(PRODUCERS * PER_PRODUCER);
      // The 'reject' channels did fill up and batches did resume part-way.
      expect(sent.reduce((n, s) => n + s.partial, 0)).toBeGreaterThan(0);
      let missing = 0;
      let duplicated = 0;
      for (let p = 0; p < PRODUCERS; p++) {
        for (let s = 0; s < PER_PRODUCER; s++) {
          let n = 0;
          for (const r of reports) n += r.seen[p]![s]!;
          if (n === 0) missing++;
          if (n > 1) duplicated++;
        }
      }
      expect({ missing, duplicated }).toEqual({ missing: 0, duplicated: 0 });
      expect(reports.reduce((n, r) => n + r.received, 0)).toBe(PRODUCERS * PER_PRODUCER);
      expect(layer.stats().depths).toEqual({});
      expect(layer.memoryStats().freeBytes).toBe(baseline);
      await layer.close();
    },
    600_000,
  );
});
