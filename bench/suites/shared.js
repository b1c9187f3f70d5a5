// Suite 4, the ringbus shared layer, through its public API only: round trip main <-> worker
// under each waiting strategy, one-way throughput 1 -> 1 (await send/receive, trySend/
// tryReceive, sendMany/receiveMany, receiveBorrowed at 64 KiB) and 2 -> 2, groupSend fan-out to 1000
// members (deliveries per second, every member really received), send + receive with 10 and
// 100 000 live channels, and memory per idle channel.

import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createLayer } from '../../dist/index.js';
import { MESSAGE_KINDS, MESSAGE_LABELS, batchFor, makeMessage } from '../messages.js';
import { backendUnavailable, nextMessage, startWorker, stopWorker } from './lib.js';

const COUNT = 0;
const TARGET = 1;
const FAN_MEMBERS = 1000;
const LIVE_COUNTS = [10, 100_000];
const LIVE_MEMORY = 256 * 1024 * 1024;
const LIVE_NAMES = 1 << 18;

/** Options every throughput case uses: senders wait for room instead of failing (see docs/bench.md). */
const FLOW = { capacity: 1000, full: 'wait' };

/** A shared counter for consumers (see workers/layer.js). */
function makeCounter(target) {
  const counter = new Int32Array(new SharedArrayBuffer(8));
  counter[TARGET] = target;
  return counter;
}

const stop = (worker) => stopWorker(worker, () => worker.postMessage({ stop: true }));

function rttCase(wait, kind) {
  return {
    id: `rtt-${wait}-${kind}`,
    name: `round trip main <-> worker, wait '${wait}', ${MESSAGE_LABELS[kind]}`,
    options: { wait }, // the layer options this case runs with, shown in the report
    kind: 'latency',
    unit: 'round trip',
    message: kind,
    batch: 1,
    async open(round) {
      const layer = await createLayer({ wait });
      const ping = `bench.ping.${round}`;
      const pong = `bench.pong.${round}`;
      const worker = await startWorker('layer.js', { mode: 'echo', handle: layer.handle, channel: ping, reply: pong });
      let n = 0;
      return {
        async: true,
        async run() {
          await layer.send(ping, makeMessage(kind, ++n));
          const m = await layer.receive(pong);
          if (m.n !== n) throw new Error(`echo returned message ${m.n}, expected ${n}`);
        },
        close: async () => {
          await stop(worker);
          await layer.close();
        },
      };
    },
  };
}

/** The options of the records variants of the one-way cases (the sender encodes records). */
const RECORDS = { ...FLOW, records: true };

/**
 * One way 1 -> 1, main -> worker: a batch of sends, timed until the worker has received the
 * last. `records`: the sender encodes records; `borrowed`: the worker receives with
 * `receiveBorrowed`, reads each message's sequence number and releases it, its payload never
 * copied out of the shared memory (the plain case copies it out once).
 */
function oneToOneCase(kind, quick, { records = false, borrowed = false } = {}) {
  const batch = batchFor(kind, quick);
  const options = records ? RECORDS : FLOW;
  return {
    id: borrowed ? `oneway-1to1-borrowed-${kind}` : records ? `oneway-1to1-records-${kind}` : `oneway-1to1-${kind}`,
    name: `one way 1 -> 1 (main -> worker), ${borrowed ? 'receiveBorrowed, ' : ''}${MESSAGE_LABELS[kind]}${records ? ', records' : ''}`,
    options,
    kind: 'rate',
    unit: 'message',
    message: kind,
    batch,
    async open(round) {
      const layer = await createLayer(options);
      const channel = `bench.${borrowed ? 'borrowed' : 'oneway'}.${round}`;
      const counter = makeCounter(batch);
      const mode = borrowed ? 'consume-borrowed' : 'consume';
      const worker = await startWorker('layer.js', { mode, handle: layer.handle, channel, counter: counter.buffer });
      const messages = Array.from({ length: batch }, (_, i) => makeMessage(kind, i));
      return {
        async: true,
        async run() {
          Atomics.store(counter, COUNT, 0);
          const done = nextMessage(worker, (m) => m.done);
          for (let i = 0; i < batch; i++) await layer.send(channel, messages[i]);
          await done;
        },
        close: async () => {
          await stop(worker);
          await layer.close();
        },
      };
    },
  };
}

/** Messages per sendMany / most per receiveMany in the batched one-way cases. */
const MANY = 256;

/**
 * One way 1 -> 1 through the synchronous calls (`style: 'try'`: trySend, an awaited send only
 * when the channel is full; the worker drains with tryReceive, a receive only when empty) or
 * the batched ones (`'many'`: sendMany of 256, receiveMany up to 256).
 */
function oneToOneStyleCase(style, kind, quick, records = false) {
  const batch = batchFor(kind, quick);
  return {
    id: records ? `oneway-1to1-${style}-records-${kind}` : `oneway-1to1-${style}-${kind}`,
    name:
      `one way 1 -> 1 (main -> worker), ${style === 'try' ? 'trySend / tryReceive' : `sendMany / receiveMany of ${MANY}`}, ` +
      `${MESSAGE_LABELS[kind]}${records ? ', records' : ''}`,
    ...(records ? { options: RECORDS } : {}),
    kind: 'rate',
    unit: 'message',
    message: kind,
    batch,
    async open(round) {
      const layer = await createLayer(records ? RECORDS : FLOW);
      const channel = `bench.oneway.${style}.${round}`;
      const counter = makeCounter(batch);
      const mode = style === 'try' ? 'consume-try' : 'consume-many';
      const worker = await startWorker('layer.js', { mode, max: MANY, handle: layer.handle, channel, counter: counter.buffer });
      const messages = Array.from({ length: batch }, (_, i) => makeMessage(kind, i));
      const chunks = [];
      for (let i = 0; i < batch; i += MANY) chunks.push(messages.slice(i, i + MANY));
      return {
        async: true,
        run:
          style === 'try'
            ? async () => {
                Atomics.store(counter, COUNT, 0);
                const done = nextMessage(worker, (m) => m.done);
                for (let i = 0; i < batch; i++) if (!layer.trySend(channel, messages[i])) await layer.send(channel, messages[i]);
                await done;
              }
            : async () => {
                Atomics.store(counter, COUNT, 0);
                const done = nextMessage(worker, (m) => m.done);
                for (const chunk of chunks) await layer.sendMany(channel, chunk);
                await done;
              },
        close: async () => {
          await stop(worker);
          await layer.close();
        },
      };
    },
  };
}

function twoToTwoCase(quick) {
  const batch = batchFor('chat', quick);
  return {
    id: 'oneway-2to2-chat',
    name: 'one way 2 -> 2 (2 producer, 2 consumer workers, one channel), chat',
    options: FLOW,
    kind: 'rate',
    unit: 'message',
    message: 'chat',
    batch,
    async open(round) {
      const layer = await createLayer(FLOW);
      const channel = `bench.mpmc.${round}`;
      const counter = makeCounter(batch);
      const common = { handle: layer.handle, channel, counter: counter.buffer, kind: 'chat' };
      const consumers = await Promise.all([0, 1].map(() => startWorker('layer.js', { ...common, mode: 'consume' })));
      const producers = await Promise.all([0, 1].map(() => startWorker('layer.js', { ...common, mode: 'produce' })));
      let base = 0;
      return {
        async: true,
        async run() {
          Atomics.store(counter, COUNT, 0);
          const done = Promise.race(consumers.map((w) => nextMessage(w, (m) => m.done)));
          for (const p of producers) {
            p.postMessage({ produce: batch / 2, base });
            base += batch / 2;
          }
          await done;
        },
        close: async () => {
          await Promise.all([...producers, ...consumers].map(stop));
          await layer.close();
        },
      };
    },
  };
}

function fanOutCase(quick, { frozenMessages = false, style = 'await', records = false } = {}) {
  const sends = quick ? 2 : 5;
  const how = style === 'try' ? ', tryReceive' : '';
  return {
    id: `fanout-1000${frozenMessages ? '-frozen' : ''}${records ? '-records' : ''}${style === 'try' ? '-try' : ''}`,
    name: frozenMessages
      ? `groupSend to ${FAN_MEMBERS} members, a worker receiving${how}, chat, frozenMessages (decoded once)`
      : `groupSend to ${FAN_MEMBERS} members, a worker receiving${how}, chat${records ? ', records' : ''}`,
    options: { ...(frozenMessages ? { frozenMessages } : {}), ...(records ? { records } : {}) },
    kind: 'rate',
    unit: 'delivery',
    message: 'chat',
    batch: sends * FAN_MEMBERS,
    async open(round) {
      const layer = await createLayer({ frozenMessages, records });
      const group = `bench.fan.${round}`;
      const members = Array.from({ length: FAN_MEMBERS }, (_, i) => `bench.fan.${round}.${i}`);
      for (const member of members) await layer.groupAdd(group, member);
      const counter = makeCounter(sends * FAN_MEMBERS);
      const worker = await startWorker('layer.js', { mode: style === 'try' ? 'fan-try' : 'fan', handle: layer.handle, members, counter: counter.buffer });
      let n = 0;
      return {
        async: true,
        async run() {
          Atomics.store(counter, COUNT, 0);
          const done = nextMessage(worker, (m) => m.done);
          for (let i = 0; i < sends; i++) await layer.groupSend(group, makeMessage('chat', ++n));
          await done;
        },
        close: async () => {
          await stop(worker);
          await layer.close();
        },
      };
    },
  };
}

/**
 * Send + receive on one thread while `live` other channels each hold a message. The layers are
 * made once (filling 100 000 channels takes a while) and kept for every round.
 */
function liveCase(live, layers) {
  const batch = 50;
  return {
    id: `sendrecv-live-${live}`,
    name: `send + receive, one thread, ${live.toLocaleString('en-US')} live channels, chat`,
    options: { expiry: 86_400, memory: LIVE_MEMORY, maxNames: LIVE_NAMES },
    kind: 'latency',
    unit: 'send + receive',
    message: 'chat',
    batch,
    async open() {
      let layer = layers.get(live);
      if (layer === undefined) {
        // Both layers get the same options: room for 100 000 channels of the default capacity
        // (the default 64 MiB region holds about 50 000, and the default maxNames about
        // 90 000), and messages that do not expire during the run (an expired message would
        // free its channel).
        layer = await createLayer({ expiry: 86_400, memory: LIVE_MEMORY, maxNames: LIVE_NAMES });
        layers.set(live, layer);
        for (let i = 0; i < live; i++) await layer.send(`bench.live.${i}`, makeMessage('chat', i));
      }
      let n = 0;
      return {
        async: true,
        async run() {
          for (let i = 0; i < batch; i++) {
            await layer.send('bench.hot', makeMessage('chat', ++n));
            const m = await layer.receive('bench.hot');
            if (m.n !== n) throw new Error(`received message ${m.n}, expected ${n}`);
          }
        },
      };
    },
  };
}

/** A `gc()` function: memory figures are read after a full collection. */
function collector() {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc');
}

/** Bytes of the shared arena in use (0 for a layer without one, like the memory layer). */
function arenaInUse(layer) {
  if (typeof layer.memoryStats !== 'function') return 0;
  const m = layer.memoryStats();
  return m.arenaBytes - m.freeBytes;
}

const CHURN_SIZES = [0, 64, 300, 1000, 5000, 20_000, 100_000];

/**
 * Free arena bytes after a churn of short-lived clients, reclaimed (`after`), or of a fresh bus
 * (the start): each client makes a channel (newChannel), joins one of 16 rooms, is sent one to
 * three messages of mixed sizes (0 B to 100 kB) and one room message; four in five drain their
 * channel and leave the room, one in five goes away and leaves its backlog and membership to
 * expire. Their ratio says how much of the arena a churn leaves usable (1: all of it).
 */
function churnFreeCase(after, quick) {
  const clients = quick ? 2000 : 10000;
  return {
    id: after ? 'churn-free-after' : 'churn-free-start',
    name: after
      ? `free arena bytes after a churn of ${clients.toLocaleString('en-US')} clients, expired and reclaimed`
      : 'free arena bytes of a fresh bus (the start of the churn)',
    options: { expiry: 0.2, groupExpiry: 0.2 },
    kind: 'value',
    unit: 'byte',
    async open() {
      return {
        async measure() {
          const layer = await createLayer({ expiry: 0.2, groupExpiry: 0.2 });
          const start = layer.memoryStats().freeBytes;
          if (!after) {
            await layer.close();
            return [start];
          }
          for (let i = 0; i < clients; i++) {
            const name = await layer.newChannel('bench');
            const room = `bench.room.${i % 16}`;
            try {
              await layer.groupAdd(room, name);
              for (let k = 0; k <= i % 3; k++) await layer.send(name, { i, b: new Uint8Array(CHURN_SIZES[(i + k) % CHURN_SIZES.length]) });
              await layer.groupSend(room, makeMessage('chat', i));
            } catch (err) {
              if (err?.code !== 'ERR_RINGBUS_OUT_OF_MEMORY' && err?.code !== 'ERR_RINGBUS_CHANNEL_FULL') throw err;
            }
            if (i % 5 === 0) continue; // gone without a word: expiry cleans up
            for (;;) {
              try {
                await layer.receive(name, { timeout: 0 });
              } catch {
                break;
              }
            }
            await layer.groupDiscard(room, name);
          }
          await new Promise((r) => setTimeout(r, 300));
          layer.reclaim();
          const free = layer.memoryStats().freeBytes;
          await layer.close();
          return [free];
        },
      };
    },
  };
}

/**
 * Bytes per idle channel: a channel made by newChannel(), added to a group, sent one message
 * that was received, and now empty (a Django consumer between two messages). Measured as the
 * growth, over `count` such channels, of this thread's JavaScript heap (after a full
 * collection) plus the shared arena in use; the same way for the shared layer and for the
 * memory layer (which has no arena).
 */
function idleMemoryCase(backend, quick) {
  const count = quick ? 5000 : 10000;
  return {
    id: `idle-memory-${backend}`,
    name: `memory per idle channel, ${backend} layer (${count.toLocaleString('en-US')} channels)`,
    options: backend === 'memory' ? { backend } : {},
    kind: 'value',
    unit: 'byte',
    async open(round) {
      return {
        async measure() {
          const gc = collector();
          const layer = await createLayer(backend === 'memory' ? { backend } : {});
          const group = `bench.idle.${round}`;
          gc();
          const heap0 = process.memoryUsage().heapUsed;
          const arena0 = arenaInUse(layer);
          for (let i = 0; i < count; i++) {
            const name = await layer.newChannel('bench');
            await layer.groupAdd(group, name);
            await layer.send(name, makeMessage('chat', i));
            await layer.receive(name);
          }
          gc();
          const bytes = process.memoryUsage().heapUsed - heap0 + (arenaInUse(layer) - arena0);
          await layer.close();
          return [bytes / count];
        },
      };
    },
  };
}

export default {
  name: 'shared',
  title: 'ringbus shared layer (the default backend)',
  ratios: [
    ...['spin', 'park', 'adaptive'].flatMap((wait) => [
      { label: `round trip '${wait}' (chat) / spin floor`, of: `shared/rtt-${wait}-chat`, over: 'floor/spin-rtt', kind: 'time' },
      {
        label: `round trip '${wait}' (chat) / (spin floor + codec)`,
        of: `shared/rtt-${wait}-chat`,
        over: ['floor/spin-rtt', { id: 'codec/packunpack-chat', times: 2 }],
        kind: 'time',
        // headline: in the summary that opens the report; goal: the target of issue 10
        ...(wait === 'adaptive' ? { headline: true, goal: { value: 1.5, source: 'issue 10' } } : {}),
      },
    ]),
    {
      label: "round trip 'adaptive' (chat): p99 / median",
      of: 'shared/rtt-adaptive-chat',
      over: 'shared/rtt-adaptive-chat',
      kind: 'tail',
      headline: true,
      goal: { value: 3, source: 'issue 10' },
    },
    { label: "round trip 'park' (chat) / wait+notify floor", of: 'shared/rtt-park-chat', over: 'floor/waitasync-rtt', kind: 'time' },
    { label: "round trip 'adaptive' (chat) / postMessage round trip", of: 'shared/rtt-adaptive-chat', over: 'peers/postmessage-rtt-chat', kind: 'time' },
    ...['1kib', '64kib'].map((kind) => ({
      label: `round trip 'adaptive' (${MESSAGE_LABELS[kind]}) / (spin floor + codec)`,
      of: `shared/rtt-adaptive-${kind}`,
      over: ['floor/spin-rtt', { id: `codec/packunpack-${kind}`, times: 2 }],
      kind: 'time',
    })),
    ...MESSAGE_KINDS.flatMap((kind) => [
      {
        label: `1 -> 1 (${MESSAGE_LABELS[kind]}) / postMessage`,
        of: `shared/oneway-1to1-${kind}`,
        over: `peers/postmessage-oneway-${kind}`,
        kind: 'rate',
        ...(kind === 'chat' ? { headline: true, goal: { value: 1.5, source: 'issue 10, plain awaits' } } : {}),
        ...(kind === '64kib' ? { headline: true, goal: { value: 1, source: 'issue 10, plain API' } } : {}),
      },
      { label: `1 -> 1 (${MESSAGE_LABELS[kind]}) / codec ceiling`, of: `shared/oneway-1to1-${kind}`, over: `codec/packunpack-${kind}`, kind: 'rate' },
    ]),
    ...['try', 'many'].flatMap((style) =>
      MESSAGE_KINDS.flatMap((kind) => {
        const what = `1 -> 1 ${style === 'try' ? 'trySend/tryReceive' : 'sendMany/receiveMany'} (${MESSAGE_LABELS[kind]})`;
        const of = `shared/oneway-1to1-${style}-${kind}`;
        // headline: the batched calls on chat against issue 10's goals (>= 3x postMessage, >= 0.9 of the codec rate)
        const goal = (value, source) => (style === 'many' && kind === 'chat' ? { headline: true, goal: { value, source } } : {});
        return [
          { label: `${what} / postMessage`, of, over: `peers/postmessage-oneway-${kind}`, kind: 'rate', ...goal(3, 'issue 10, batched calls') },
          { label: `${what} / codec ceiling`, of, over: `codec/packunpack-${kind}`, kind: 'rate', ...goal(0.9, 'issue 10, batched calls') },
          { label: `${what} / await send+receive`, of, over: `shared/oneway-1to1-${kind}`, kind: 'rate' },
        ];
      }),
    ),
    {
      label: '1 -> 1 borrowed bytes (64 KiB) / postMessage',
      of: 'shared/oneway-1to1-borrowed-64kib',
      over: 'peers/postmessage-oneway-64kib',
      kind: 'rate',
      headline: true,
      goal: { value: 3, source: 'issue 10, borrowed bytes' },
    },
    { label: '1 -> 1 borrowed bytes (64 KiB) / byte ring floor copying out (64 KiB)', of: 'shared/oneway-1to1-borrowed-64kib', over: 'floor/ring-64kib-copy', kind: 'rate' },
    { label: '1 -> 1 (64 KiB) / byte ring floor copying out (64 KiB)', of: 'shared/oneway-1to1-64kib', over: 'floor/ring-64kib-copy', kind: 'rate' },
    { label: '1 -> 1 borrowed bytes (64 KiB) / await send+receive', of: 'shared/oneway-1to1-borrowed-64kib', over: 'shared/oneway-1to1-64kib', kind: 'rate' },
    // Records (option records) against plain msgpack, same case otherwise, same run.
    { label: '1 -> 1 (chat), records / plain', of: 'shared/oneway-1to1-records-chat', over: 'shared/oneway-1to1-chat', kind: 'rate' },
    ...['try', 'many'].map((style) => ({
      label: `1 -> 1 ${style === 'try' ? 'trySend/tryReceive' : 'sendMany/receiveMany'} (chat), records / plain`,
      of: `shared/oneway-1to1-${style}-records-chat`,
      over: `shared/oneway-1to1-${style}-chat`,
      kind: 'rate',
    })),
    { label: 'fan-out, records / fan-out (1000 decodes of one group send)', of: 'shared/fanout-1000-records', over: 'shared/fanout-1000', kind: 'rate' },
    { label: '1 -> 1 (chat) / byte ring floor (64 B)', of: 'shared/oneway-1to1-chat', over: 'floor/ring-64b', kind: 'rate' },
    { label: '2 -> 2 (chat) / 1 -> 1 (chat)', of: 'shared/oneway-2to2-chat', over: 'shared/oneway-1to1-chat', kind: 'rate' },
    { label: '2 -> 2 (chat) / postMessage', of: 'shared/oneway-2to2-chat', over: 'peers/postmessage-oneway-chat', kind: 'rate' },
    { label: 'fan-out deliveries / postMessage messages', of: 'shared/fanout-1000', over: 'peers/postmessage-oneway-chat', kind: 'rate', headline: true },
    { label: 'fan-out deliveries / 1 -> 1 messages', of: 'shared/fanout-1000', over: 'shared/oneway-1to1-chat', kind: 'rate' },
    { label: 'fan-out, frozenMessages (decoded once) / fan-out', of: 'shared/fanout-1000-frozen', over: 'shared/fanout-1000', kind: 'rate' },
    { label: 'fan-out, tryReceive / await receive', of: 'shared/fanout-1000-try', over: 'shared/fanout-1000', kind: 'rate' },
    {
      label: 'fan-out, frozenMessages + tryReceive / fan-out',
      of: 'shared/fanout-1000-frozen-try',
      over: 'shared/fanout-1000',
      kind: 'rate',
      headline: true,
      goal: { rate: 5e6, unit: 'delivery', source: 'issue 10' },
    },
    { label: 'send+receive, 100 000 live channels / 10 live channels', of: 'shared/sendrecv-live-100000', over: 'shared/sendrecv-live-10', kind: 'time' },
    { label: 'send+receive, 10 live channels / memory layer', of: 'shared/sendrecv-live-10', over: 'peers/memory-sendrecv-chat', kind: 'time' },
    { label: 'idle channel memory / memory layer', of: 'shared/idle-memory-shared', over: 'shared/idle-memory-memory', kind: 'value' },
    { label: 'free bytes after a churn run / at its start', of: 'shared/churn-free-after', over: 'shared/churn-free-start', kind: 'value', better: 'higher' },
  ],
  async open({ quick }) {
    const skip = await backendUnavailable();
    if (skip) return skip;
    const layers = new Map();
    return {
      cases: [
        ...['spin', 'park', 'adaptive'].map((wait) => rttCase(wait, 'chat')),
        rttCase('adaptive', '1kib'),
        rttCase('adaptive', '64kib'),
        ...MESSAGE_KINDS.map((kind) => oneToOneCase(kind, quick)),
        ...['try', 'many'].flatMap((style) => MESSAGE_KINDS.map((kind) => oneToOneStyleCase(style, kind, quick))),
        oneToOneCase('64kib', quick, { borrowed: true }),
        oneToOneCase('chat', quick, { records: true }),
        ...['try', 'many'].map((style) => oneToOneStyleCase(style, 'chat', quick, true)),
        twoToTwoCase(quick),
        fanOutCase(quick),
        fanOutCase(quick, { frozenMessages: true }),
        fanOutCase(quick, { style: 'try' }),
        fanOutCase(quick, { frozenMessages: true, style: 'try' }),
        fanOutCase(quick, { records: true }),
        ...LIVE_COUNTS.map((live) => liveCase(live, layers)),
        idleMemoryCase('shared', quick),
        idleMemoryCase('memory', quick),
        churnFreeCase(false, quick),
        churnFreeCase(true, quick),
      ],
      close: async () => {
        for (const layer of layers.values()) await layer.close();
      },
    };
  },
};
