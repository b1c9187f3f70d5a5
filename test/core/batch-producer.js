// Batch stress producer: sends `count` messages in batches of random sizes (sendMany), with
// now and then single trySend calls, to random channels. Each message carries producer id,
// sequence number and a CRC32 of its payload. A batch that stops part-way (ChannelFull on a
// 'reject' channel) is resumed from its error's `sent` count: nothing is dropped or repeated.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';
import { checkedMessages, unitRandom } from './random.js';

const { handle, id, count, channels, seed } = workerData;
const layer = attachLayer(handle);

const rand = unitRandom(seed >>> 0 || 1);

function size() {
  const r = rand();
  if (r < 0.002) return 16384;
  if (r < 0.9) return (rand() * 256) | 0;
  return (rand() * 4096) | 0;
}

const message = checkedMessages(rand, id, 1 << 18, size);

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
