/**
 * Each trade-off policy under concurrent load: several producer and consumer worker threads on
 * one shared bus (and, where it makes sense, the same load as interleaved async tasks on the
 * single-threaded memory layer, the oracle). Every message is `{ p, s }`, so each one is
 * accounted for:
 *
 * - `full: 'wait'` loses nothing and duplicates nothing, under every `wait` strategy, and a
 *   send that gave up (timeout) was never delivered;
 * - `full: 'drop-oldest'` drops exactly what the layers' `dropped` counters say;
 * - `order: 'lifo'` returns the newest message first, per channel (checked against a logical
 *   clock while producers and consumers run at the same time, and on a drained backlog);
 * - a sender waiting for room and a receiver waiting for a message park (their thread's event
 *   loop is idle) unless the strategy is `'spin'`;
 * - the shared arena is back to its baseline afterwards.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLayer, type ChannelLayer, type SharedLayer } from '../../dist/index.js';
import { consume, produce } from './roles.js';

type Backend = 'shared' | 'memory';
type Wait = 'park' | 'spin' | 'adaptive';

interface ProducerResult {
  dropped: number;
  timedOut: number[];
}
interface ConsumerResult {
  log: number[];
}

interface Load {
  backend: Backend;
  options: Record<string, unknown>;
  producers: number;
  /** Consumers, each on one channel (defaults to all on `channels[0]`). */
  consumerChannels: string[];
  /** Channels the producers send to, message s to `channels[s % channels.length]`. */
  channels: string[];
  count: number;
  sendTimeout?: number;
  slowEvery?: number;
  yieldEvery?: number;
}

interface LoadResult {
  producers: ProducerResult[];
  consumers: ConsumerResult[];
  /** How often each message (p * count + s) was received. */
  seen: Uint8Array;
  /** Tick after each message's send resolved (0: never sent). */
  ends: Int32Array;
  /** Dropped, as counted by all the instances that sent (the memory layer has one). */
  dropped: number;
  /** Shared layer: free arena bytes (pooled records included) before and after, reclaimed. */
  freeBefore: number;
  freeAfter: number;
}

const SHARED_OPTIONS = { memory: 16 * 1024 * 1024, maxNames: 4096 };

function inWorker<T>(workerData: Record<string, unknown>): Promise<T> {
  const worker = new Worker(new URL('./policy-worker.js', import.meta.url), { workerData });
  return new Promise<T>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`policy worker (${String(workerData.role)}) exited with code ${code} before reporting`)));
  });
}

function freeOf(layer: SharedLayer): number {
  const m = layer.memoryStats();
  return m.freeBytes + m.pooledRecords * m.recordBytes;
}

async function runLoad(load: Load): Promise<LoadResult> {
  const total = load.producers * load.count;
  const seen = new Uint8Array(new SharedArrayBuffer(total));
  const ticks = new SharedArrayBuffer(4);
  const endsBuffer = new SharedArrayBuffer(total * 4);
  const common = { count: load.count, ticks, seen: seen.buffer, ends: endsBuffer };
  const layer = await createLayer({
    backend: load.backend,
    ...(load.backend === 'shared' ? SHARED_OPTIONS : {}),
    ...load.options,
  });
  const shared = load.backend === 'shared' ? (layer as SharedLayer) : null;
  const freeBefore = shared ? freeOf(shared) : 0;
  const consumerJobs = load.consumerChannels.map((channel) => {
    const data = { ...common, channel, slowEvery: load.slowEvery };
    return shared
      ? inWorker<ConsumerResult>({ ...data, role: 'consumer', handle: shared.handle })
      : (consume(layer, data) as Promise<ConsumerResult>);
  });
  const producerJobs = Array.from({ length: load.producers }, (_, p) => {
    const data = { ...common, p, channels: load.channels, sendTimeout: load.sendTimeout, yieldEvery: load.yieldEvery };
    return shared
      ? inWorker<ProducerResult>({ ...data, role: 'producer', handle: shared.handle })
      : (produce(layer, data) as Promise<ProducerResult>);
  });
  const producers = await Promise.all(producerJobs);
  const droppedBefore = layer.stats().dropped;
  // One end marker per consumer, queued behind everything the producers sent. On a LIFO
  // channel "behind" is the top of the stack, so a marker sent now would be taken first and
  // stop its consumer with a backlog left: there, wait for the consumers to drain it first.
  if (load.options.order === 'lifo') {
    const pending = () => load.consumerChannels.some((ch) => (layer.stats().depths[ch] ?? 0) > 0);
    while (pending()) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  for (const channel of load.consumerChannels) await layer.send(channel, { end: true });
  const markerDropped = layer.stats().dropped - droppedBefore;
  // Worker instances count their own drops; the memory layer's one instance counted them all.
  const dropped = shared ? producers.reduce((n, p) => n + p.dropped, 0) + markerDropped : layer.stats().dropped;
  const consumers = await Promise.all(consumerJobs);
  let freeAfter = 0;
  if (shared) {
    shared.reclaim();
    freeAfter = freeOf(shared);
  }
  await layer.close();
  return { producers, consumers, seen, ends: new Int32Array(endsBuffer), dropped, freeBefore, freeAfter };
}

/** Messages received 0 times, more than once, and in all. */
function tally(seen: Uint8Array): { missing: number; duplicated: number; received: number } {
  let missing = 0;
  let duplicated = 0;
  let received = 0;
  for (const n of seen) {
    if (n === 0) missing++;
    if (n > 1) duplicated++;
    received += n;
  }
  return { missing, duplicated, received };
}

/**
 * Order violations in consumer logs: for FIFO, a consumer that got message s of producer p
 * after a later message of p on the same channel; for LIFO, see {@link lifoViolations}.
 */
function fifoViolations(consumers: ConsumerResult[], producers: number, channels: number): number {
  let bad = 0;
  for (const { log } of consumers) {
    const last = new Array<number>(producers * channels).fill(-1);
    for (let i = 0; i < log.length; i += 3) {
      const p = log[i]!;
      const s = log[i + 1]!;
      const key = p * channels + (s % channels);
      if (s <= last[key]!) bad++;
      last[key] = s;
    }
  }
  return bad;
}

/**
 * LIFO against the logical clock: a consumer took message a (of producer p) and later message
 * b of p on the same channel, with b sent after a. If b's send had already completed before
 * the consumer started the receive that returned a, both were in the stack at that receive,
 * b above a, so taking a first breaks LIFO. Returns how often that happened.
 */
function lifoViolations(consumers: ConsumerResult[], ends: Int32Array, count: number, channels: number): number {
  let bad = 0;
  for (const { log } of consumers) {
    for (let i = 0; i < log.length; i += 3) {
      const pa = log[i]!;
      const sa = log[i + 1]!;
      const receiveStart = log[i + 2]!;
      for (let j = i + 3; j < log.length; j += 3) {
        const pb = log[j]!;
        const sb = log[j + 1]!;
        if (pb !== pa || sb <= sa || sb % channels !== sa % channels) continue;
        const sentB = ends[pb * count + sb]!;
        if (sentB !== 0 && sentB < receiveStart) bad++;
      }
    }
  }
  return bad;
}

const BACKENDS: Backend[] = ['shared', 'memory'];

describe.each(BACKENDS)('trade-offs under concurrent load: %s layer', (backend) => {
  const strategies: Wait[] = backend === 'shared' ? ['park', 'adaptive', 'spin'] : ['adaptive'];

  describe("full: 'wait'", () => {
    it.each(strategies)("loses nothing with wait: '%s' (3 producers, 2 slow consumers, capacity 4)", async (wait) => {
      // 'spin' burns a core per waiting thread: fewer messages keep it short on a small machine.
      const count = wait === 'spin' ? 600 : 2000;
      const r = await runLoad({
        backend,
        options: { capacity: 4, full: 'wait', wait },
        producers: 3,
        consumerChannels: ['load.wait', 'load.wait'],
        channels: ['load.wait'],
        count,
        slowEvery: 50,
      });
      expect(tally(r.seen)).toEqual({ missing: 0, duplicated: 0, received: 3 * count });
      expect(r.dropped).toBe(0);
      expect(fifoViolations(r.consumers, 3, 1)).toBe(0);
      expect(r.freeAfter).toBe(r.freeBefore);
    });

    it('never delivers a send that timed out, and delivers every other exactly once', async () => {
      const count = 1500;
      const r = await runLoad({
        backend,
        options: { capacity: 2, full: 'wait' },
        producers: 3,
        consumerChannels: ['load.timeout'],
        channels: ['load.timeout'],
        count,
        sendTimeout: 1,
        slowEvery: 20,
      });
      let timedOut = 0;
      let wrong = 0;
      r.producers.forEach((p, i) => {
        timedOut += p.timedOut.length;
        for (const s of p.timedOut) if (r.seen[i * count + s] !== 0) wrong++;
      });
      expect(wrong).toBe(0);
      // The consumer sleeps every 20 messages while 3 senders give up after 1 ms: some must.
      expect(timedOut).toBeGreaterThan(0);
      const t = tally(r.seen);
      expect(t.duplicated).toBe(0);
      expect(t.missing).toBe(timedOut);
      expect(r.dropped).toBe(0);
      expect(r.freeAfter).toBe(r.freeBefore);
    });
  });

  describe("full: 'drop-oldest'", () => {
    // Slow consumers: the channel is full most of the time. Fast ones: sends race with
    // receives on a nearly full ring (a receiver preempted mid-receive must not make a
    // drop-oldest send fail, nor evict more than it has to).
    it.each([
      ['slow', 25],
      ['fast', 0],
    ] as const)('drops exactly what its counters say (3 producers, 2 %s consumers, capacity 8)', async (_speed, slowEvery) => {
      const count = 3000;
      const r = await runLoad({
        backend,
        options: { capacity: 8, full: 'drop-oldest' },
        producers: 3,
        consumerChannels: ['load.drop', 'load.drop'],
        channels: ['load.drop'],
        count,
        slowEvery,
      });
      const t = tally(r.seen);
      expect(t.duplicated).toBe(0);
      if (slowEvery > 0) expect(t.missing).toBeGreaterThan(0); // the channel was full, often
      expect(t.missing).toBe(r.dropped);
      // Evicting from the head keeps the survivors in order.
      expect(fifoViolations(r.consumers, 3, 1)).toBe(0);
      expect(r.freeAfter).toBe(r.freeBefore);
    });
  });

  describe("order: 'lifo'", () => {
    it('returns the newest message first while producers and consumers run at once', async (ctx) => {
      if (!(await offersLifo(backend))) ctx.skip();
      const count = 2000;
      const r = await runLoad({
        backend,
        options: { capacity: 3 * count, order: 'lifo' },
        producers: 3,
        consumerChannels: ['load.lifo', 'load.lifo'],
        channels: ['load.lifo'],
        count,
        yieldEvery: 100,
      });
      expect(tally(r.seen)).toEqual({ missing: 0, duplicated: 0, received: 3 * count });
      expect(lifoViolations(r.consumers, r.ends, count, 1)).toBe(0);
      expect(r.freeAfter).toBe(r.freeBefore);
    });

    it('drains a backlog newest first on lifo channels only (channelOrder), oldest first elsewhere', async (ctx) => {
      if (!(await offersLifo(backend))) ctx.skip();
      const count = 1000;
      const total = 3 * count;
      const layer = await createLayer({
        backend,
        ...(backend === 'shared' ? SHARED_OPTIONS : {}),
        capacity: total,
        channelOrder: { 'stack.*': 'lifo' },
      });
      const ticks = new SharedArrayBuffer(4);
      const ends = new SharedArrayBuffer(total * 4);
      const channels = ['stack.a', 'queue.a'];
      await Promise.all(
        Array.from({ length: 3 }, (_, p) => {
          const data = { p, count, channels, ticks, ends };
          return backend === 'shared'
            ? inWorker({ ...data, role: 'producer', handle: (layer as SharedLayer).handle })
            : produce(layer, data);
        }),
      );
      const stack = await drain(layer, 'stack.a');
      const queue = await drain(layer, 'queue.a');
      expect(stack.length + queue.length).toBe(total);
      expect(orderedPerProducer(stack, 'desc')).toBe(true);
      expect(orderedPerProducer(queue, 'asc')).toBe(true);
      // The very first message out of the stack is the last one some producer pushed to it.
      const last = stack[0]!;
      expect(last.s).toBeGreaterThanOrEqual(count - 2);
      await layer.close();
    });
  });
});

describe('waiting threads park unless told to spin (shared layer)', () => {
  it.each([
    ['send', 'park'],
    ['send', 'adaptive'],
    ['send', 'spin'],
    ['receive', 'park'],
    ['receive', 'adaptive'],
    ['receive', 'spin'],
  ] as const)("a waiting %s with wait: '%s'", async (op, wait) => {
    const layer = (await createLayer({ ...SHARED_OPTIONS, capacity: 1, full: 'wait', wait })) as SharedLayer;
    if (op === 'send') await layer.send('park.full', { fill: true });
    const r = await inWorker<{ code: string | null; elu: number }>({
      role: 'waiter',
      op,
      wait,
      handle: layer.handle,
      channel: op === 'send' ? 'park.full' : 'park.empty',
      waitMs: 400,
    });
    expect(r.code).toBe('ERR_RINGBUS_TIMEOUT');
    // Event loop utilization of the waiting thread over the wait: a parked thread is idle,
    // a spinning one is busy all along (thresholds far from both ends).
    if (wait === 'spin') expect(r.elu).toBeGreaterThan(0.6);
    else expect(r.elu).toBeLessThan(0.4);
    // The message that filled the channel is still there, alone: the timed-out send left nothing.
    if (op === 'send') {
      expect(await layer.receive('park.full', { timeout: 0 })).toEqual({ fill: true });
      await expect(layer.receive('park.full', { timeout: 0 })).rejects.toMatchObject({ code: 'ERR_RINGBUS_TIMEOUT' });
    }
    await layer.close();
  });
});

async function offersLifo(backend: Backend): Promise<boolean> {
  try {
    const probe = await createLayer({ backend, ...(backend === 'shared' ? SHARED_OPTIONS : {}), order: 'lifo' });
    await probe.close();
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_RINGBUS_UNSUPPORTED') return false;
    throw err;
  }
}

async function drain(layer: ChannelLayer, channel: string): Promise<Array<{ p: number; s: number }>> {
  const out: Array<{ p: number; s: number }> = [];
  for (;;) {
    try {
      out.push((await layer.receive(channel, { timeout: 0 })) as { p: number; s: number });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_RINGBUS_TIMEOUT') return out;
      throw err;
    }
  }
}

function orderedPerProducer(messages: Array<{ p: number; s: number }>, dir: 'asc' | 'desc'): boolean {
  const last = new Map<number, number>();
  for (const { p, s } of messages) {
    const prev = last.get(p);
    if (prev !== undefined && (dir === 'asc' ? s <= prev : s >= prev)) return false;
    last.set(p, s);
  }
  return true;
}
