// Reproducible randomness and checked messages for the core's stress workers.

import { crc32 } from 'node:zlib';

/** xorshift32 from `state` (a u32; 0 stays 0): each call returns the next u32. */
export function xorshift32(state) {
  let s = state >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** The same generator scaled to [0, 1). */
export function unitRandom(state) {
  const next = xorshift32(state);
  return () => next() / 4294967296;
}

/**
 * Messages `{ p: producer, s: sequence, c: CRC32 of d, d }` whose payload `d` is a random slice
 * (of `size()` bytes) of a random source of `sourceBytes` bytes; consumers check `c`.
 */
export function checkedMessages(rand, producer, sourceBytes, size) {
  const source = new Uint8Array(sourceBytes);
  for (let i = 0; i < source.length; i++) source[i] = (rand() * 256) | 0;
  return (seq) => {
    const n = size();
    const off = (rand() * (source.length - n)) | 0;
    const d = source.subarray(off, off + n);
    return { p: producer, s: seq, c: crc32(d), d };
  };
}

/**
 * Send `message` to `channel` of `layer`, retrying after a turn of the event loop while the
 * channel is full (ChannelFull); any other error is thrown. Returns how many sends were refused
 * as full before it was queued.
 */
export async function sendWhileFull(layer, channel, message) {
  for (let refused = 0; ; refused++) {
    try {
      await layer.send(channel, message);
      return refused;
    } catch (err) {
      if (err.code !== 'ERR_RINGBUS_CHANNEL_FULL') throw err;
      await new Promise((r) => setImmediate(r));
    }
  }
}
