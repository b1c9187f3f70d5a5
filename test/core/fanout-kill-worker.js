// Decode-cache kill victim: receives from its members forever (frozenMessages inherited from
// the handle), checking each message, until it is terminated at a random moment.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';

const { handle, members } = workerData;
const layer = attachLayer(handle);
parentPort.postMessage({ ready: true });
for (let i = 0; ; i++) {
  const m = await layer.receive(members[i % members.length], { timeout: 60_000 });
  if (typeof m.s !== 'number' || !Object.isFrozen(m)) throw new Error(`bad message ${JSON.stringify(m)}`);
}
