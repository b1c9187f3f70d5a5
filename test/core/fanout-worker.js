// Decode-once victim: attaches with the bus's frozenMessages option, takes one message from
// each of `members` (first deliveries of group sends whose other deliveries are still queued:
// its decode cache keeps references on their blocks), reports, then waits to be terminated.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';

const { handle, members } = workerData;
const layer = attachLayer(handle);
for (const m of members) await layer.receive(m, { timeout: 60_000 });
parentPort.postMessage({ cached: layer.decodeCache.byHandle.size });
setInterval(() => {}, 1000);
