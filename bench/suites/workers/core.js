// The consumer side of the core-only cases (../core.js): attach to the bus, then call only the
// core's exports in a loop (pop, read the 16 payload bytes, release), checking every message's
// sequence number, until told to stop. Internal access to the layer's core (`layer.core`) for
// this bench only.

import { parentPort, workerData } from 'node:worker_threads';
import * as ringbus from '../../../dist/index.js';

const { handle, rec, gen, held, counter } = workerData;
const count = new Int32Array(counter);
const layer = await ringbus.attachLayer(handle);
const core = layer.core;
const x = core.x;
const i32 = core.i32;
// One pin for the whole run (what an instance-held pin does), or one pin per operation.
if (held && x.pinRecord(rec, gen) !== 1) throw new Error('channel record is stale');
parentPort.postMessage({ ready: true });

let expect = 0;
let n = 0;
for (;;) {
  const h = held ? x.popPinned(rec, -Infinity) : x.recv(rec, gen, -Infinity);
  if (h <= 1) {
    if (Atomics.load(count, 1) !== 0) break;
    // The producer may ask for the count after this thread took the batch's last message.
    if (Atomics.load(count, 2) === n && Atomics.load(count, 0) !== n) Atomics.store(count, 0, n);
    continue;
  }
  const seq = i32[(h + 16) >> 2];
  if (seq !== expect) throw new Error(`message ${seq} arrived, expected ${expect}`);
  expect = (expect + 1) | 0;
  x.release(h);
  if ((++n & 63) === 0) Atomics.store(count, 0, n);
  else if (Atomics.load(count, 2) === n) Atomics.store(count, 0, n);
}
if (held) x.unpinRecord(rec);
await layer.close();
parentPort.postMessage({ n });
