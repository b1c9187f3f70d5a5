// Stress consumer: one receive loop per channel it serves (two consumers serve each channel,
// so queues are multi-producer AND multi-consumer). Checks every message: CRC32 of the
// payload, no duplicate (per producer, a byte per sequence number), and order per producer
// per channel (a consumer that takes m1 then m2 from one channel must see m1 sent first).
// A loop ends at its first end marker. Reports counts, errors and the seen-maps.
import { parentPort, workerData } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { attachLayer } from '../../dist/index.js';

const { handle, channels, producers, perProducer } = workerData;
const layer = attachLayer(handle);
const seen = Array.from({ length: producers }, () => new Uint8Array(perProducer));
const errors = [];
let received = 0;
let bytes = 0;

async function serve(channel) {
  const last = new Array(producers).fill(-1);
  for (;;) {
    const m = await layer.receive(channel);
    if (m.end === true) return;
    received++;
    bytes += m.d.length;
    if (errors.length < 20) {
      if (crc32(m.d) !== m.c) errors.push(`corrupt: producer ${m.p} seq ${m.s} on ${channel}`);
      if (seen[m.p][m.s] !== 0) errors.push(`duplicate: producer ${m.p} seq ${m.s}`);
      if (m.s <= last[m.p]) errors.push(`out of order on ${channel}: producer ${m.p} seq ${m.s} after ${last[m.p]}`);
    }
    seen[m.p][m.s] = 1;
    last[m.p] = m.s;
  }
}

parentPort.postMessage({ ready: true });
await Promise.all(channels.map(serve));
await layer.close();
parentPort.postMessage({ received, bytes, errors, seen }, seen.map((s) => s.buffer));
