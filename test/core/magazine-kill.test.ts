/**
 * Block magazines (assembly/magazine.ts) under worker kills: producer and consumer threads are
 * terminated at random moments in the middle of traffic (so inside allocations, frees,
 * magazine flushes and refills) and replaced; every delivered message is checked (CRC32,
 * per-producer order per consumer, no duplicate), at most one message is lost per consumer
 * killed (the one in its hands: the bus is at-most-once without leases), and once the dead
 * threads are reaped and the bus reclaimed, the free bytes are exactly the starting figure,
 * nothing is left in any magazine and a message of maxMessageSize fits.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';
import { crc32 } from 'node:zlib';
import { unitRandom } from './random.js';

const CHANNELS = ['mag.a', 'mag.b'];
const PRODUCERS = 3; // at any time
const CONSUMERS = 2; // per channel, at any time
const PER_PRODUCER = 40_000;
const KILLS = 14;
const MAX_IDS = PRODUCERS + KILLS;

interface Spawned {
  worker: Worker;
  ready: Promise<void>;
  done: Promise<unknown>;
  exited: Promise<void>;
}

function spawn(file: string, workerData: unknown, errors: string[]): Spawned {
  const worker = new Worker(new URL(file, import.meta.url), { workerData });
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const exited = new Promise<void>((r) => worker.once('exit', () => r()));
  const done = new Promise<unknown>((resolve, reject) => {
    worker.on('message', (m: { ready?: boolean; errors?: string[] }) => {
      if (m.ready === true) onReady();
      else if (m.errors !== undefined) errors.push(...m.errors);
      else resolve(m);
    });
    worker.on('error', reject);
    void exited.then(() => resolve(undefined));
  });
  return { worker, ready, done, exited };
}

describe('block magazines under worker kills', () => {
  it('deliver every message intact and give every byte back after reaping and reclaim', async () => {
    const layer: SharedLayer = await createLayer({ memory: 64 * 1024 * 1024, capacity: 256 });
    const x = (layer as unknown as { core: { x: Record<string, (...a: number[]) => number> } }).core.x;
    for (const ch of CHANNELS) {
      await layer.send(ch, { warm: true });
      await layer.receive(ch);
    }
    layer.reclaim();
    const baseline = layer.memoryStats().freeBytes;
    const seen = new Int32Array(new SharedArrayBuffer(MAX_IDS * PER_PRODUCER * 4));
    const control = new Int32Array(new SharedArrayBuffer(4));
    const errors: string[] = [];
    const rand = unitRandom((Date.now() ^ 0x5bd1e995) >>> 0 || 1);
    const exits: Promise<void>[] = [];
    let nextId = 0;
    const producerOf = new Map<Spawned, number>();
    const newProducer = (): Spawned => {
      const id = nextId++;
      const p = spawn('./magazine-producer.js', { handle: layer.handle, id, count: PER_PRODUCER, channels: CHANNELS, seed: (id * 7919) ^ (rand() * 2 ** 32) }, errors);
      void layer.watch(p.worker);
      exits.push(p.exited);
      producerOf.set(p, id);
      return p;
    };
    const newConsumer = (channel: string): Spawned => {
      const c = spawn('./magazine-consumer.js', { handle: layer.handle, channel, seen: seen.buffer, perProducer: PER_PRODUCER, control: control.buffer }, errors);
      void layer.watch(c.worker);
      exits.push(c.exited);
      return c;
    };
    const consumers: { s: Spawned; channel: string }[] = [];
    for (const ch of CHANNELS) for (let k = 0; k < CONSUMERS; k++) consumers.push({ s: newConsumer(ch), channel: ch });
    await Promise.all(consumers.map((c) => c.s.ready));
    let producers = Array.from({ length: PRODUCERS }, newProducer);
    const finished: Promise<unknown>[] = [];
    const killedProducers = new Set<number>();
    let consumerKills = 0;
    let magazineSeen = 0;
    let midTraffic = 0; // kills of a worker that was still sending or receiving
    const isDone = (w: Spawned): Promise<boolean> => Promise.race([w.done.then(() => true), new Promise<boolean>((r) => setImmediate(() => r(false)))]);
    for (let k = 0; k < KILLS; k++) {
      await new Promise((r) => setTimeout(r, 20 + rand() * 120));
      magazineSeen = Math.max(magazineSeen, x.magazineBytes!());
      if (rand() < 0.5) {
        const i = (rand() * producers.length) | 0;
        const victim = producers[i]!;
        killedProducers.add(producerOf.get(victim)!);
        if (!(await isDone(victim))) midTraffic++;
        await victim.worker.terminate();
        producers[i] = newProducer();
      } else {
        const i = (rand() * consumers.length) | 0;
        const victim = consumers[i]!;
        consumerKills++;
        if (!(await isDone(victim.s))) midTraffic++;
        await victim.s.worker.terminate();
        const c = newConsumer(victim.channel);
        consumers[i] = { s: c, channel: victim.channel };
        await c.ready;
      }
    }
    for (const p of producers) finished.push(p.done);
    await Promise.all(finished);
    Atomics.store(control, 0, 1);
    await Promise.all(consumers.map((c) => c.s.done));
    await Promise.all(exits); // every worker gone, so every watch() reaped its instances
    await new Promise((r) => setTimeout(r, 20));
    // What the consumers left in the channels: checked here.
    for (const ch of CHANNELS) {
      for (let m = layer.tryReceive(ch); m !== undefined; m = layer.tryReceive(ch)) {
        const msg = m as { p: number; s: number; c: number; d: Uint8Array };
        if (crc32(msg.d) !== msg.c) errors.push(`corrupt: producer ${msg.p} seq ${msg.s} left on ${ch}`);
        Atomics.add(seen, msg.p * PER_PRODUCER + msg.s, 1);
      }
    }
    expect(errors).toEqual([]);
    let duplicated = 0;
    let missing = 0;
    for (let id = 0; id < nextId; id++) {
      // A killed producer sent a prefix of its sequence: only its gaps below the last one seen count.
      let end = PER_PRODUCER;
      if (killedProducers.has(id)) {
        end = 0;
        for (let s = 0; s < PER_PRODUCER; s++) if (seen[id * PER_PRODUCER + s]! > 0) end = s + 1;
      }
      for (let s = 0; s < end; s++) {
        const n = seen[id * PER_PRODUCER + s]!;
        if (n === 0) missing++;
        if (n > 1) duplicated++;
      }
    }
    expect(duplicated).toBe(0);
    expect(missing).toBeLessThanOrEqual(consumerKills);
    expect(magazineSeen).toBeGreaterThan(0); // the traffic did go through magazines
    expect(midTraffic).toBeGreaterThanOrEqual(KILLS / 2);
    // The reaper emptied the magazines of every dead instance (before any reclaim).
    let deadHeld = 0;
    for (let id = 1; id <= x.magazineSlots!(); id++) if (id !== layer.instanceId) deadHeld += x.magazineHeld!(id);
    expect(deadHeld).toBe(0);
    console.log(`magazine kills: ${midTraffic} of ${KILLS} mid-traffic (${consumerKills} consumers), ${nextId} producers, ${missing} lost`);
    layer.reclaim();
    expect(x.magazineBytes!()).toBe(0);
    expect(x.magazineDepot!()).toBe(0);
    expect(layer.memoryStats().freeBytes).toBe(baseline);
    await layer.send('mag.big', { d: new Uint8Array((1 << 20) - 64) }); // maxMessageSize, encoded
    expect(((await layer.receive('mag.big')) as { d: Uint8Array }).d.length).toBe((1 << 20) - 64);
    await layer.close();
  }, 240_000);
});
