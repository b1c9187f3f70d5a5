// Batch stress producer: sends `count` messages in batches of random sizes (sendMany), with
// now and then single trySend calls, to random channels. Each message carries producer id,
// sequence number and a CRC32 of its payload. A batch that stops part-way (ChannelFull on a
// 'reject' channel) is resumed from its error's `sent` count: nothing is dropped or repeated.
import { parentPort, workerData } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { attachLayer } from '../../dist/index.js';

const { handle, id, count, channels, seed } = workerData;
const layer = attachLayer(handle);

let state = seed >>> 0 || 1;
const rand = () => {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state / 4294967296;
};

const source = new Uint8Array(1 << 18);
for (let i = 0; i < source.length; i++) source[i] = (rand() * 256) | 0;

function size() {
  const r = rand();
  if (r < 0.002) return 16384;
  if (r < 0.9) return (rand() * 256) | 0;
  return (rand() * 4096) | 0;
}

function message(seq) {
  const n = size();
  const off = (rand() * (source.length - n)) | 0;
  const d = source.subarray(off, off + n);
  return { p: id, s: seq, c: crc32(d), d };
}

const yieldNow = () => new Promise((r) => setImmediate(r));
let partial = 0;
let tryFalse = 0;
let batches = 0;
for (let seq = 0; seq < count; ) {
  const channel = channels[(rand() * channels.length) | 0];
  if (rand() < 0.1) {
    const m = message(seq++);
    while (!layer.trySend(channel, m)) {
      tryFalse++;
      await yieldNow();
    }
    continue;
  }
  const n = Math.min(count - seq, 1 + ((rand() * 64) | 0));
  let batch = Array.from({ length: n }, (_, i) => message(seq + i));
  seq += n;
  batches++;
  for (;;) {
    try {
      await layer.sendMany(channel, batch);
      break;
    } catch (err) {
      if (err.code !== 'ERR_RINGBUS_CHANNEL_FULL' || typeof err.sent !== 'number') throw err;
      partial++;
      batch = batch.slice(err.sent);
      await yieldNow();
    }
  }
}
const stats = layer.stats();
await layer.close();
parentPort.postMessage({ sent: count, batches, partial, tryFalse, stats: { waits: stats.waits, notifies: stats.notifies } });
