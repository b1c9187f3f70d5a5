// Consumer of the magazine kill stress (magazine-kill.test.ts): receives from its channel until
// told to stop, checking every message (CRC32 of the payload, per-producer order on its
// channel) and counting it in the shared seen table (so the count survives its termination).
import { parentPort, workerData } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { attachLayer } from '../../dist/index.js';

const { handle, channel, seen, perProducer, control } = workerData;
const layer = attachLayer(handle);
const counts = new Int32Array(seen);
const stop = new Int32Array(control);
const last = new Map();
const errors = [];
let received = 0;

parentPort.postMessage({ ready: true });
while (Atomics.load(stop, 0) === 0) {
  let m;
  try {
    m = await layer.receive(channel, { timeout: 20 });
  } catch (err) {
    if (err.code === 'ERR_RINGBUS_TIMEOUT') continue;
    throw err;
  }
  received++;
  if (crc32(m.d) !== m.c) errors.push(`corrupt: producer ${m.p} seq ${m.s} on ${channel}`);
  const before = last.get(m.p) ?? -1;
  if (m.s <= before) errors.push(`out of order on ${channel}: producer ${m.p} seq ${m.s} after ${before}`);
  last.set(m.p, m.s);
  Atomics.add(counts, m.p * perProducer + m.s, 1);
  if (errors.length > 0) parentPort.postMessage({ errors: errors.splice(0) });
}
await layer.close();
parentPort.postMessage({ received });
