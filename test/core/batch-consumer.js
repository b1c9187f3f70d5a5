// Batch stress consumer: serves its channels with receiveMany (random max) and tryReceive
// drains, and checks every message: CRC32 of the payload, no duplicate (a byte per producer
// and sequence number), order per producer per channel. A loop ends at an end marker; end
// markers it took for the other consumers (a batch can hold several) go back on the channel.
import { parentPort, workerData } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { attachLayer } from '../../dist/index.js';
import { unitRandom } from './random.js';

const { handle, channels, producers, perProducer, seed } = workerData;
const layer = attachLayer(handle);
const seen = Array.from({ length: producers }, () => new Uint8Array(perProducer));
const errors = [];
let received = 0;
let calls = 0;

const rand = unitRandom(seed >>> 0 || 1);

async function serve(channel) {
  const last = new Array(producers).fill(-1);
  let ended = 0;
  const check = (m) => {
    if (m.end === true) {
      ended++;
      return;
    }
    received++;
    if (errors.length < 20) {
      if (ended > 0) errors.push(`message after the end marker on ${channel}: producer ${m.p} seq ${m.s}`);
      if (crc32(m.d) !== m.c) errors.push(`corrupt: producer ${m.p} seq ${m.s} on ${channel}`);
      if (seen[m.p][m.s] !== 0) errors.push(`duplicate: producer ${m.p} seq ${m.s}`);
      if (m.s <= last[m.p]) errors.push(`out of order on ${channel}: producer ${m.p} seq ${m.s} after ${last[m.p]}`);
    }
    seen[m.p][m.s] = 1;
    last[m.p] = m.s;
  };
  while (ended === 0) {
    calls++;
    for (const m of await layer.receiveMany(channel, { max: 1 + ((rand() * 128) | 0) })) check(m);
    for (let k = (rand() * 16) | 0; k > 0 && ended === 0; k--) {
      const m = layer.tryReceive(channel);
      if (m === undefined) break;
      check(m);
    }
  }
  for (let extra = ended - 1; extra > 0; extra--) await layer.send(channel, { end: true });
}

parentPort.postMessage({ ready: true });
await Promise.all(channels.map(serve));
await layer.close();
parentPort.postMessage({ received, calls, errors, seen }, seen.map((s) => s.buffer));
