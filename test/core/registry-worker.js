// Worker for registry-race.test.ts: for each round, send one message to each of that round's
// fresh channel names (so that every thread inserts the same new names at the same time, while
// the previous rounds' emptied channels are being reclaimed), then take one message from each.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';

const { handle, id, rounds, names, threads, barrier: barrierBuffer } = workerData;
const layer = attachLayer(handle);
const barrier = new Int32Array(barrierBuffer);
const got = [];

/** Spin until every thread has arrived for round `r`: they then insert the same names together. */
function arrive(r) {
  Atomics.add(barrier, 0, 1);
  while (Atomics.load(barrier, 0) < threads * (r + 1));
}

for (let r = 0; r < rounds; r++) {
  arrive(r);
  for (let k = 0; k < names; k++) await layer.send(`reg.${r}.${k}`, { from: id, r, k });
  for (let k = 0; k < names; k++) {
    const m = await layer.receive(`reg.${r}.${k}`, { timeout: 10_000 });
    if (m.r !== r || m.k !== k) throw new Error(`reg.${r}.${k} delivered ${JSON.stringify(m)}`);
    got.push(m.from);
  }
}
await layer.close();
parentPort.postMessage({ got });
