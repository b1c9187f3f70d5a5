// A worker thread of the trade-off load tests: attaches to the shared bus of
// `workerData.handle` and plays one role of roles.js, or 'waiter': one send on a full channel
// (op 'send') or one receive on an empty one (op 'receive') that waits `waitMs` and times
// out, reporting how busy this thread's event loop was meanwhile.
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';
import { consume, produce } from './roles.js';

const layer = attachLayer(workerData.handle);
let result;
if (workerData.role === 'producer') result = await produce(layer, workerData);
else if (workerData.role === 'consumer') result = await consume(layer, workerData);
else if (workerData.role === 'waiter') {
  // Event loop utilization says whether the thread slept (park) or kept running (spin).
  const before = performance.eventLoopUtilization();
  const options = { timeout: workerData.waitMs };
  let code = null;
  try {
    if (workerData.op === 'send') await layer.send(workerData.channel, { late: true }, options);
    else await layer.receive(workerData.channel, options);
  } catch (err) {
    code = err.code;
  }
  result = { code, elu: performance.eventLoopUtilization(before).utilization };
} else throw new Error(`unknown role ${workerData.role}`);
await layer.close();
parentPort.postMessage(result);
