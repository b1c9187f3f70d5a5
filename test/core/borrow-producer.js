// Borrow stress producer: `count` checked messages `{ p, s, c, d }` (CRC32 of the payload `d`)
// of random sizes, small to 64 KiB, sent to one channel (full 'wait': sends wait for room), and
// now and then to a group of two channels (a block two members share; a full member misses it).
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';
import { checkedMessages, unitRandom } from './random.js';

const { handle, id, count, channel, group, seed } = workerData;
const layer = attachLayer(handle);
const rand = unitRandom(seed >>> 0 || 1);

function size() {
  const r = rand();
  if (r < 0.1) return 16384 + ((rand() * 49152) | 0);
  if (r < 0.6) return 1024 + ((rand() * 3072) | 0);
  return (rand() * 1024) | 0;
}

const message = checkedMessages(rand, id, 1 << 17, size);
let grouped = 0;
for (let s = 0; s < count; s++) {
  const m = message(s);
  if (rand() < 0.05) {
    // Both members are served by the consumers; the copy to each is a message of its own.
    await layer.groupSend(group, { ...m, g: true });
    grouped++;
  } else await layer.send(channel, m);
}
const { dropped } = layer.stats(); // group members that were full missed those copies
await layer.close();
parentPort.postMessage({ sent: count, grouped, dropped });
