// Receiver of poke.test.ts: attaches, says it is about to park, receives one message and
// reports it.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';

const { handle, channel } = workerData;
const layer = attachLayer(handle);
parentPort.postMessage({ parking: true });
try {
  const m = await layer.receive(channel);
  parentPort.postMessage({ got: m.n });
} catch (err) {
  parentPort.postMessage({ error: err.message });
}
await layer.close();
