// Stress producer: sends `count` messages of random sizes (0 B .. 64 KiB, skewed small) to
// random channels; each carries producer id, sequence number and a CRC32 of its payload.
// Retries on ChannelFull (never drops). Reports { sent, fullRetries } when done.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';
import { checkedMessages, unitRandom, sendWhileFull } from './random.js';

const { handle, id, count, channels, seed } = workerData;
const layer = attachLayer(handle);

const rand = unitRandom(seed >>> 0 || 1); // reproducible per producer

function size() {
  const r = rand();
  if (r < 0.0005) return 65536; // the maximum occurs, exactly
  if (r < 0.9) return (rand() * 512) | 0;
  if (r < 0.99) return (rand() * 8192) | 0;
  return (rand() * 65536) | 0;
}

const makeMessage = checkedMessages(rand, id, 1 << 20, size);
let fullRetries = 0;
let biggest = 0;
for (let seq = 0; seq < count; seq++) {
  const message = makeMessage(seq);
  if (message.d.length > biggest) biggest = message.d.length;
  const channel = channels[(rand() * channels.length) | 0];
  fullRetries += await sendWhileFull(layer, channel, message);
}
await layer.close();
parentPort.postMessage({ sent: count, fullRetries, biggest });
