// The two roles of the trade-off load tests, written once and run either inside a worker
// thread (policy-worker.js, shared layer) or as async tasks of the test's own thread (memory
// layer, which has one thread only). Every message is `{ p, s }`: producer id and sequence
// number, so the test can account for each one.
//
// Logical clock: `ticks` is a SharedArrayBuffer whose first Int32 every role increments
// around its operations. A producer stores, for each message, the tick taken right AFTER its
// send resolved (`ends[p * count + s]`); a consumer logs, for each message, the tick taken
// right BEFORE the receive that returned it. These ticks are what the LIFO check compares.

const tick = (clock) => Atomics.add(clock, 0, 1) + 1;
const yieldNow = () => new Promise((resolve) => setImmediate(resolve));

/**
 * @param {object} layer a ChannelLayer
 * @param {{ channels: string[], p: number, count: number, ticks: SharedArrayBuffer, ends: SharedArrayBuffer,
 *   sendTimeout?: number, yieldEvery?: number }} options
 *
 * Send `count` messages `{ p, s }`, message s to `channels[s % channels.length]`. Returns
 * what this layer instance counted as dropped, and the sends that failed by timeout (their
 * sequence numbers: under `full: 'wait'` with `sendTimeout`, such a message must never arrive).
 */
export async function produce(layer, { channels, p, count, ticks, ends, sendTimeout, yieldEvery }) {
  const clock = new Int32Array(ticks);
  const end = new Int32Array(ends);
  const timedOut = [];
  const options = sendTimeout === undefined ? undefined : { timeout: sendTimeout };
  for (let s = 0; s < count; s++) {
    try {
      await layer.send(channels[s % channels.length], { p, s }, options);
    } catch (err) {
      if (sendTimeout === undefined || err.code !== 'ERR_RINGBUS_TIMEOUT') throw err;
      timedOut.push(s);
      continue;
    }
    end[p * count + s] = tick(clock);
    if (yieldEvery && s % yieldEvery === 0) await yieldNow();
  }
  return { dropped: layer.stats().dropped, timedOut };
}

/**
 * @param {object} layer a ChannelLayer
 * @param {{ channel: string, seen: SharedArrayBuffer, count: number, ticks: SharedArrayBuffer, slowEvery?: number }} options
 *
 * Receive from `channel` until an end marker `{ end: true }`. Marks each `{ p, s }` in the
 * shared `seen` counts and logs `[p, s, tick before the receive]` triples. With `slowEvery`,
 * pauses a little every that many messages (so that senders find the channel full).
 */
export async function consume(layer, { channel, seen, count, ticks, slowEvery }) {
  const clock = new Int32Array(ticks);
  const marks = new Uint8Array(seen);
  const log = [];
  for (let n = 1; ; n++) {
    const before = tick(clock);
    const m = await layer.receive(channel);
    if (m.end) break;
    Atomics.add(marks, m.p * count + m.s, 1);
    log.push(m.p, m.s, before);
    if (slowEvery && n % slowEvery === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return { log };
}
