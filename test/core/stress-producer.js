// Stress producer: sends `count` messages of random sizes (0 B .. 64 KiB, skewed small) to
// random channels; each carries producer id, sequence number and a CRC32 of its payload.
// Retries on ChannelFull (never drops). Reports { sent, fullRetries } when done.
import { parentPort, workerData } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { attachLayer } from '../../dist/index.js';

const { handle, id, count, channels, seed } = workerData;
const layer = attachLayer(handle);

let state = seed >>> 0 || 1;
const rand = () => {
  // xorshift32: reproducible per producer
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state / 4294967296;
};

const source = new Uint8Array(1 << 20);
for (let i = 0; i < source.length; i++) source[i] = (rand() * 256) | 0;

function size() {
  const r = rand();
  if (r < 0.0005) return 65536; // the maximum occurs, exactly
  if (r < 0.9) return (rand() * 512) | 0;
  if (r < 0.99) return (rand() * 8192) | 0;
  return (rand() * 65536) | 0;
}

let fullRetries = 0;
let biggest = 0;
for (let seq = 0; seq < count; seq++) {
  const n = size();
  if (n > biggest) biggest = n;
  const off = (rand() * (source.length - n)) | 0;
  const d = source.subarray(off, off + n);
  const message = { p: id, s: seq, c: crc32(d), d };
  const channel = channels[(rand() * channels.length) | 0];
  for (;;) {
    try {
      await layer.send(channel, message);
      break;
    } catch (err) {
      if (err.code !== 'ERR_RINGBUS_CHANNEL_FULL') throw err;
      fullRetries++;
      await new Promise((r) => setImmediate(r));
    }
  }
}
await layer.close();
parentPort.postMessage({ sent: count, fullRetries, biggest });
