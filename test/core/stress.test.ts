/**
 * Multi-thread stress of the shared core: 4 producer and 4 consumer worker threads, 4
 * channels each served by 2 consumers (MPMC queues), 1 M messages of random sizes from 0 B
 * to 64 KiB (skewed small; the 64 KiB maximum occurs). Every message carries producer id,
 * sequence number and a CRC32 of its payload. Checked: no message lost, none duplicated,
 * none corrupted, order kept per producer per channel, and every arena byte back at the end.
 */
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';
import { runWorker } from './run-worker.js';

const PRODUCERS = 4;
const CONSUMERS = 4;
const PER_PRODUCER = 250_000;
const CHANNELS = ['stress.a', 'stress.b', 'stress.c', 'stress.d'];

const run = <T>(file: string, workerData: unknown) => runWorker<T>(new URL(file, import.meta.url), workerData);

describe('shared core under stress', () => {
  it(
    `moves ${(PRODUCERS * PER_PRODUCER).toLocaleString('en')} messages between ${PRODUCERS} producer and ${CONSUMERS} consumer threads intact`,
    async () => {
      const layer: SharedLayer = await createLayer({ memory: 256 * 1024 * 1024, capacity: 1024 });
      // Create the channels first, so that the accounting baseline includes them.
      for (const ch of CHANNELS) {
        await layer.send(ch, { warm: true });
        await layer.receive(ch);
      }
      const baseline = layer.memoryStats().freeBytes;
      const consumers = Array.from({ length: CONSUMERS }, (_, i) =>
        run<{ received: number; bytes: number; errors: string[]; seen: Uint8Array[] }>('./stress-consumer.js', {
          handle: layer.handle,
          channels: [CHANNELS[i % CHANNELS.length], CHANNELS[(i + 1) % CHANNELS.length]],
          producers: PRODUCERS,
          perProducer: PER_PRODUCER,
        }),
      );
      await Promise.all(consumers.map((c) => c.ready));
      const started = performance.now();
      const producers = Array.from({ length: PRODUCERS }, (_, id) =>
        run<{ sent: number; fullRetries: number; biggest: number }>('./stress-producer.js', {
          handle: layer.handle,
          id,
          count: PER_PRODUCER,
          channels: CHANNELS,
          seed: 0x9e3779b9 ^ (id * 7919) ^ Date.now(),
        }),
      );
      const sent = await Promise.all(producers.map((p) => p.result));
      // FIFO: the end markers queue behind every data message. Two consumers serve each channel.
      for (const ch of CHANNELS) for (let k = 0; k < 2; k++) await layer.send(ch, { end: true });
      const reports = await Promise.all(consumers.map((c) => c.result));
      const seconds = (performance.now() - started) / 1000;

      const errors = reports.flatMap((r) => r.errors);
      expect(errors).toEqual([]);
      const total = reports.reduce((n, r) => n + r.received, 0);
      expect(sent.reduce((n, s) => n + s.sent, 0)).toBe(PRODUCERS * PER_PRODUCER);
      expect(Math.max(...sent.map((s) => s.biggest))).toBe(65536);
      // Exactly once across all consumers: each (producer, seq) seen by exactly one of them.
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
      expect({ missing, duplicated, total }).toEqual({ missing: 0, duplicated: 0, total: PRODUCERS * PER_PRODUCER });
      // Every block is back: the arena's free space is exactly what it was.
      expect(layer.memoryStats().freeBytes).toBe(baseline);
      const mb = reports.reduce((n, r) => n + r.bytes, 0) / 1e6;
      const retries = sent.reduce((n, s) => n + s.fullRetries, 0);
      console.log(
        `stress: ${total} messages (${mb.toFixed(0)} MB of payload) in ${seconds.toFixed(1)} s = ` +
          `${Math.round(total / seconds).toLocaleString('en')} msg/s; ${retries} ChannelFull retries`,
      );
      await layer.close();
    },
    300_000,
  );
});
