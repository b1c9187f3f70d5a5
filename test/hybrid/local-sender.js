// A worker thread of test/hybrid/setups.test.ts: attaches to the hybrid bus in workerData and
// sends `count` numbered messages to `channel`, then one group message per `group`, then
// says 'done'.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';

const { ringbus, channel, count, group } = workerData;
const layer = attachLayer(ringbus);
for (let n = 0; n < count; n++) await layer.send(channel, { type: 'local', n });
if (group) await layer.groupSend(group, { type: 'group' });
await layer.close();
parentPort.postMessage('done');
