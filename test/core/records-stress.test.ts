/**
 * The records structure table under concurrent appends: 3 producer threads with
 * `records: true` append new shapes (some shared by all producers, most their own; more in
 * all than the table holds) while 2 consumer threads decode. Every message is checked byte
 * for byte against the one its (producer, seq) stands for, and its order per producer; the
 * table ends full (later shapes travel as plain maps) and every reserved entry is published.
 */
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';
import { OWN_SHAPES, SHARED_SHAPES } from './records-messages.js';
import { runWorker } from './run-worker.js';

const PRODUCERS = 3;
const CONSUMERS = 2;
const PER_PRODUCER = 20_000;
const CHANNEL = 'records.stress';

const run = <T>(file: string, workerData: unknown) => runWorker<T>(new URL(file, import.meta.url), workerData);

describe('records structure table under concurrent appends', () => {
  it('delivers every message intact while producers append shapes until the table is full', async () => {
    // Each shape is a top-level and a nested key list: more than the table's 1024 entries.
    expect(2 * (SHARED_SHAPES + PRODUCERS * OWN_SHAPES)).toBeGreaterThan(1024);
    const layer: SharedLayer = await createLayer({ memory: 64 * 1024 * 1024, capacity: 512 });
    try {
      const consumers = Array.from({ length: CONSUMERS }, () =>
        run<{ received: number; errors: string[] }>('./records-consumer.js', { handle: layer.handle, channel: CHANNEL, producers: PRODUCERS }),
      );
      const producers = Array.from({ length: PRODUCERS }, (_, id) =>
        run<{ sent: number }>('./records-producer.js', { handle: layer.handle, id, count: PER_PRODUCER, channel: CHANNEL }),
      );
      await Promise.all([...consumers, ...producers].map((w) => w.ready));
      await Promise.all(producers.map((p) => p.result));
      for (let k = 0; k < CONSUMERS; k++) await layer.send(CHANNEL, { end: true });
      const reports = await Promise.all(consumers.map((c) => c.result));
      expect(reports.flatMap((r) => r.errors)).toEqual([]);
      expect(reports.reduce((n, r) => n + r.received, 0)).toBe(PRODUCERS * PER_PRODUCER);
      const table = layer.memoryStats().structures;
      expect(table.capacity).toBe(1024);
      expect(table.reserved).toBe(table.capacity); // full: the shapes beyond it went as plain maps
      expect(table.published).toBe(table.reserved); // no writer died: every entry complete
    } finally {
      await layer.close();
    }
  });
});
