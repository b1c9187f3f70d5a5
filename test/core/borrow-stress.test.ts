/**
 * Multi-thread stress of borrowed receives (`receiveBorrowed`) on the shared layer: 3
 * producer threads send checked messages (producer id, sequence number, CRC32 of a payload
 * of up to 64 KiB) to one channel, and now and then a group send to two member channels; 2
 * consumer threads take them with `receiveBorrowed` (now and then `receive`) while keeping a
 * random window of borrows unreleased (up to 25, beyond MAX_BORROWS). Every message is checked
 * when taken (CRC, duplicate, order per producer) and each held borrow again when it is
 * released, after the other threads' traffic reused the arena meanwhile: a borrowed view
 * never reads another message's bytes. At the end: nothing lost or duplicated, and every
 * arena byte back (each borrow's block came back with its release).
 */
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';
import { runWorker } from './run-worker.js';

const PRODUCERS = 3;
const CONSUMERS = 2;
const PER_PRODUCER = 20_000;
const CHANNEL = 'borrow.stress';
const GROUP = 'borrow.group';
const MEMBERS = ['borrow.member.0', 'borrow.member.1'];

const run = <T>(file: string, workerData: unknown) => runWorker<T>(new URL(file, import.meta.url), workerData);

interface Report {
  received: number;
  borrowed: number;
  shared: number;
  recheckedLate: number;
  errors: string[];
  seen: Uint8Array[];
  seenGroup: Uint8Array[];
}

describe('borrowed receives across threads under stress', () => {
  it(
    `moves ${(PRODUCERS * PER_PRODUCER).toLocaleString('en')} messages to ${CONSUMERS} borrowing consumers, every held view intact`,
    async () => {
      const layer: SharedLayer = await createLayer({ memory: 64 * 1024 * 1024, capacity: 64, full: 'wait', maxMessageSize: 128 * 1024 });
      for (const ch of [CHANNEL, ...MEMBERS]) {
        await layer.send(ch, { warm: true });
        await layer.receive(ch);
      }
      for (const m of MEMBERS) await layer.groupAdd(GROUP, m);
      const baseline = layer.memoryStats().freeBytes;
      const consumers = Array.from({ length: CONSUMERS }, (_, i) =>
        run<Report>('./borrow-consumer.js', {
          handle: layer.handle,
          channels: [CHANNEL, MEMBERS[i]],
          producers: PRODUCERS,
          perProducer: PER_PRODUCER,
          seed: 0x27d4eb2d ^ (i * 7919) ^ Date.now(),
        }),
      );
      await Promise.all(consumers.map((c) => c.ready));
      const producers = Array.from({ length: PRODUCERS }, (_, id) =>
        run<{ sent: number; grouped: number; dropped: number }>('./borrow-producer.js', {
          handle: layer.handle,
          id,
          count: PER_PRODUCER,
          channel: CHANNEL,
          group: GROUP,
          seed: 0x165667b1 ^ (id * 104729) ^ Date.now(),
        }),
      );
      const sent = await Promise.all(producers.map((p) => p.result));
      for (let k = 0; k < CONSUMERS; k++) await layer.send(CHANNEL, { end: true });
      for (const m of MEMBERS) await layer.send(m, { end: true });
      const reports = await Promise.all(consumers.map((c) => c.result));

      expect(reports.flatMap((r) => r.errors)).toEqual([]);
      const grouped = sent.reduce((n, s) => n + s.grouped, 0);
      let missing = 0;
      let duplicated = 0;
      let delivered = 0;
      for (let p = 0; p < PRODUCERS; p++) {
        for (let s = 0; s < PER_PRODUCER; s++) {
          let n = 0;
          for (const r of reports) n += r.seen[p]![s]!;
          if (n > 1) duplicated++;
          delivered += n;
        }
      }
      missing = PRODUCERS * PER_PRODUCER - grouped - delivered;
      expect({ missing, duplicated }).toEqual({ missing: 0, duplicated: 0 });
      // Each group send reached both members, but for the misses of full members.
      const dropped = sent.reduce((n, s) => n + s.dropped, 0);
      expect(reports.reduce((n, r) => n + r.received, 0)).toBe(PRODUCERS * PER_PRODUCER - grouped + 2 * grouped - dropped);
      let copies = 0;
      for (const r of reports) for (const marks of r.seenGroup) for (const v of marks) copies += v;
      expect(copies).toBe(2 * grouped - dropped);
      // The test did what it says: most borrows lent shared memory, many were held across traffic.
      const borrowed = reports.reduce((n, r) => n + r.borrowed, 0);
      expect(reports.reduce((n, r) => n + r.shared, 0)).toBeGreaterThan(borrowed / 4);
      expect(reports.reduce((n, r) => n + r.recheckedLate, 0)).toBeGreaterThan(borrowed / 2);
      expect(layer.stats().depths).toEqual({});
      expect(layer.memoryStats().freeBytes).toBe(baseline);
      await layer.close();
    },
    600_000,
  );
});
