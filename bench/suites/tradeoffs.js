// Suite 6, the price of each trade-off knob on the shared layer (see docs/tradeoffs.md): one way
// 1 -> 1 throughput (main thread -> worker) and round trip (main <-> worker echo) for every
// setting of `delivery`, `order`, `full` and `wait`, all with the chat message, so that each
// ratio compares two settings measured side by side in the same run.
//
// Unless a case is about that knob, a case uses the defaults (at-most-once, fifo, adaptive)
// with capacity 1000 and full 'wait' (flow control, as in the shared suite). The `full` cases use
// the default capacity (100) where the policy decides what happens: 'wait' parks the sender,
// 'reject' makes it retry after a turn of the event loop (what a caller of a plain `send` would
// do), 'drop-oldest' never waits and loses messages (the share lost is printed as a note).
//
// The worker side lives in this same file (started with this file's URL and `tradeoffsWorker`
// in its workerData), so that the suite is one file.

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createLayer, attachLayer } from '../../dist/index.js';
import { makeMessage } from '../messages.js';
import { backendUnavailable, nextMessage, startWorker, stopWorker } from './lib.js';

const WORKER_KEY = 'tradeoffsWorker';
/** This file, as startWorker (which resolves names in ./workers/) reaches it. */
const SELF = '../tradeoffs.js';

const FLOW = { capacity: 1000, full: 'wait' };

/** The settings measured, as (case id part, label, layer options, how the worker receives). */
const SETTINGS = {
  delivery: [
    { id: 'at-most-once', label: "delivery 'at-most-once'", options: {}, lease: false },
    { id: 'at-least-once', label: "delivery 'at-least-once' (receiveLease + ack)", options: { delivery: 'at-least-once' }, lease: true },
  ],
  order: [
    { id: 'fifo', label: "order 'fifo'", options: {} },
    { id: 'lifo', label: "order 'lifo'", options: { order: 'lifo' } },
  ],
  full: [
    { id: 'wait', label: "full 'wait' (capacity 100)", options: { capacity: 100, full: 'wait' } },
    { id: 'reject', label: "full 'reject' (capacity 100, sender retries)", options: { capacity: 100, full: 'reject' }, retry: true },
    { id: 'drop-oldest', label: "full 'drop-oldest' (capacity 100)", options: { capacity: 100, full: 'drop-oldest' } },
  ],
  wait: [
    { id: 'park', label: "wait 'park'", options: { wait: 'park' } },
    { id: 'adaptive', label: "wait 'adaptive'", options: { wait: 'adaptive' } },
    { id: 'spin', label: "wait 'spin'", options: { wait: 'spin' } },
  ],
};

const stop = (worker) => stopWorker(worker, () => worker.postMessage({ stop: true }));

function batchOf(quick) {
  return quick ? 500 : 2000;
}

/**
 * One way, main -> worker: `batch` sends, timed until the worker has received them all (it
 * counts them). Under drop-oldest some never arrive: there an end marker, sent last, closes
 * the batch instead (on a FIFO channel it is received last; a LIFO channel would serve it
 * first, which is why the count is used everywhere else).
 */
function onewayCase(knob, setting, quick, drops) {
  const batch = batchOf(quick);
  return {
    id: `oneway-${knob}-${setting.id}`,
    name: `one way 1 -> 1, ${setting.label}, chat`,
    options: { ...FLOW, ...setting.options }, // shown in the report next to the name
    kind: 'rate',
    unit: 'message',
    message: 'chat',
    batch,
    async open(round) {
      const layer = await createLayer({ ...FLOW, ...setting.options });
      const channel = `bench.tradeoffs.oneway.${round}`;
      const lossy = setting.options.full === 'drop-oldest';
      const worker = await startWorker(SELF, {
        [WORKER_KEY]: true, mode: 'consume', handle: layer.handle, channel, lease: Boolean(setting.lease), expect: lossy ? 0 : batch,
      });
      const messages = Array.from({ length: batch }, (_, i) => makeMessage('chat', i));
      const droppedAtStart = layer.stats().dropped;
      let sent = 0;
      // Only 'reject' needs the retry loop; every other setting sends as a user would, with no
      // extra async frame inside the timed loop (it would pull every ratio towards 1).
      const send = setting.retry
        ? async (message) => {
            for (;;) {
              try {
                return await layer.send(channel, message);
              } catch (err) {
                if (err.code !== 'ERR_RINGBUS_CHANNEL_FULL') throw err;
                await new Promise((resolve) => setImmediate(resolve));
              }
            }
          }
        : (message) => layer.send(channel, message);
      return {
        async: true,
        async run() {
          const done = nextMessage(worker, (m) => m.done);
          done.catch(() => {}); // awaited below; a failed send must not leave it unhandled
          for (let i = 0; i < batch; i++) await send(messages[i]);
          // The marker may evict a message too; it is never evicted itself (nothing follows it).
          if (lossy) await send({ end: true });
          await done;
          sent += batch;
        },
        close: async () => {
          if (drops !== undefined) {
            drops.sent += sent;
            drops.dropped += layer.stats().dropped - droppedAtStart;
          }
          await stop(worker);
          await layer.close();
        },
      };
    },
  };
}

/** Round trip main <-> worker: send, the worker receives (or leases and acks) and echoes. */
function rttCase(knob, setting) {
  return {
    id: `rtt-${knob}-${setting.id}`,
    name: `round trip main <-> worker, ${setting.label}, chat`,
    options: { ...FLOW, ...setting.options },
    kind: 'latency',
    unit: 'round trip',
    message: 'chat',
    batch: 1,
    async open(round) {
      const layer = await createLayer({ ...FLOW, ...setting.options });
      const ping = `bench.tradeoffs.ping.${round}`;
      const pong = `bench.tradeoffs.pong.${round}`;
      const worker = await startWorker(SELF, { [WORKER_KEY]: true, mode: 'echo', handle: layer.handle, channel: ping, reply: pong, lease: Boolean(setting.lease) });
      let n = 0;
      return {
        async: true,
        async run() {
          await layer.send(ping, makeMessage('chat', ++n));
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

/** Does the shared layer accept these options? (A knob the backend refuses is skipped, with a note.) */
async function offered(options) {
  try {
    const probe = await createLayer(options);
    await probe.close();
    return true;
  } catch (err) {
    if (err && err.code === 'ERR_RINGBUS_UNSUPPORTED') return false;
    throw err;
  }
}

const pair = (label, of, over, kind, extra = {}) => ({ label, of: `tradeoffs/${of}`, over: `tradeoffs/${over}`, kind, ...extra });

export default {
  name: 'tradeoffs',
  title: 'Trade-offs: the price of each knob (shared layer, chat message)',
  ratios: [
    pair('1 -> 1 at-least-once / at-most-once', 'oneway-delivery-at-least-once', 'oneway-delivery-at-most-once', 'rate'),
    pair('round trip at-least-once / at-most-once', 'rtt-delivery-at-least-once', 'rtt-delivery-at-most-once', 'time', { headline: true }),
    pair('1 -> 1 lifo / fifo', 'oneway-order-lifo', 'oneway-order-fifo', 'rate'),
    pair('round trip lifo / fifo', 'rtt-order-lifo', 'rtt-order-fifo', 'time'),
    pair("1 -> 1 full 'reject' (retrying) / 'wait'", 'oneway-full-reject', 'oneway-full-wait', 'rate'),
    pair("1 -> 1 full 'drop-oldest' / 'wait' (sends)", 'oneway-full-drop-oldest', 'oneway-full-wait', 'rate'),
    pair("round trip wait 'spin' / 'park'", 'rtt-wait-spin', 'rtt-wait-park', 'time'),
    pair("round trip wait 'adaptive' / 'park'", 'rtt-wait-adaptive', 'rtt-wait-park', 'time'),
    pair("1 -> 1 wait 'spin' / 'park'", 'oneway-wait-spin', 'oneway-wait-park', 'rate'),
    pair("1 -> 1 wait 'adaptive' / 'park'", 'oneway-wait-adaptive', 'oneway-wait-park', 'rate'),
  ],
  async open({ quick, note }) {
    const skip = await backendUnavailable();
    if (skip) return skip;
    const drops = { sent: 0, dropped: 0 };
    const cases = [];
    for (const [knob, settings] of Object.entries(SETTINGS)) {
      for (const setting of settings) {
        if (!(await offered({ ...FLOW, ...setting.options }))) {
          note(`${knob} '${setting.id}' is not offered by the shared layer: its cases are left out`);
          continue;
        }
        cases.push(onewayCase(knob, setting, quick, setting.id === 'drop-oldest' ? drops : undefined));
        // The full policies only differ when the channel fills, which a round trip never does.
        if (knob !== 'full') cases.push(rttCase(knob, setting));
      }
    }
    return {
      cases,
      close: async () => {
        if (drops.sent > 0) {
          const share = (100 * drops.dropped) / drops.sent;
          note(`full 'drop-oldest': ${drops.dropped} of ${drops.sent} messages sent were evicted (${share.toFixed(1)}%)`);
        }
      },
    };
  },
};

// ---- the worker side ------------------------------------------------------------------------

async function workerMain() {
  const { mode, handle, channel, reply, lease, expect } = workerData;
  const layer = attachLayer(handle);
  const closed = (err) => err && err.code === 'ERR_RINGBUS_LAYER_CLOSED';
  /** The next message: leased and acknowledged at once, or plainly received. */
  const next = lease
    ? async () => {
        const { message, ack } = await layer.receiveLease(channel);
        await ack();
        return message;
      }
    : () => layer.receive(channel);
  parentPort.on('message', async (m) => {
    if (m.stop) {
      await layer.close();
      parentPort.close();
    }
  });
  parentPort.postMessage({ ready: true });
  try {
    if (mode === 'echo') {
      for (;;) await layer.send(reply, await next());
    } else {
      // A batch ends when `expect` messages arrived, or (expect 0) at the end marker.
      for (let got = 0; ; ) {
        const m = await next();
        if (!m.end) got++;
        if (m.end || (expect > 0 && got === expect)) {
          parentPort.postMessage({ done: true, got });
          got = 0;
        }
      }
    }
  } catch (err) {
    if (!closed(err)) throw err;
  }
}

if (!isMainThread && workerData && workerData[WORKER_KEY]) await workerMain();
