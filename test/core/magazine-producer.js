// Producer of the magazine kill stress (magazine-kill.test.ts): sends `count` checked messages
// (random.js) to random channels, sizes mostly in the magazine classes (<= 1 KiB blocks),
// some larger, retrying on ChannelFull. It may be terminated at any moment.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';
import { checkedMessages, unitRandom, sendWhileFull } from './random.js';

const { handle, id, count, channels, seed } = workerData;
const layer = attachLayer(handle);
const rand = unitRandom(seed >>> 0 || 1);

function size() {
  const r = rand();
  if (r < 0.85) return (rand() * 200) | 0;
  if (r < 0.98) return (rand() * 1000) | 0;
  if (r < 0.998) return (rand() * 6000) | 0;
  return 20000 + ((rand() * 20000) | 0); // a run of pages
}

const makeMessage = checkedMessages(rand, id, 1 << 16, size);
parentPort.postMessage({ ready: true });
for (let seq = 0; seq < count; seq++) {
  const message = makeMessage(seq);
  const channel = channels[(rand() * channels.length) | 0];
  await sendWhileFull(layer, channel, message);
}
await layer.close();
parentPort.postMessage({ sent: count });
