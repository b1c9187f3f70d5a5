// Records stress consumer: receives from `channel` until an end marker, checks every
// message byte for byte against the one its (producer, seq) stands for (plain re-encoding:
// key order, -0, bigints, bytes), and its order per producer (FIFO: seq increases).
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer, encode } from '../../dist/index.js';
import { recordMessage } from './records-messages.js';

const { handle, channel, producers } = workerData;
const layer = attachLayer(handle);
parentPort.postMessage({ ready: true });
const last = new Array(producers).fill(-1);
const errors = [];
let received = 0;
for (;;) {
  // One at a time: the end marker meant for the other consumer stays on the channel.
  const m = await layer.receive(channel);
  if (m.end === true) break;
  {
    received++;
    const want = Buffer.from(encode(recordMessage(m.p, m.seq)));
    const got = Buffer.from(encode(m));
    if (!got.equals(want) && errors.length < 10) errors.push(`producer ${m.p} seq ${m.seq}: got ${got.toString('hex')} want ${want.toString('hex')}`);
    if (m.seq <= last[m.p] && errors.length < 10) errors.push(`producer ${m.p}: seq ${m.seq} after ${last[m.p]}`);
    last[m.p] = m.seq;
  }
}
await layer.close();
parentPort.postMessage({ received, errors, last });
