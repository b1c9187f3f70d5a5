// Records stress producer: sends `count` messages of test/core/records-messages.js on
// `channel` with `records: true` (retrying while full: nothing is dropped), then reports.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';
import { recordMessage } from './records-messages.js';
import { sendWhileFull } from './random.js';

const { handle, id, count, channel } = workerData;
const layer = attachLayer({ ...handle, options: { ...handle.options, records: true } });
parentPort.postMessage({ ready: true });
for (let seq = 0; seq < count; seq++) await sendWhileFull(layer, channel, recordMessage(id, seq));
await layer.close();
parentPort.postMessage({ sent: count });
