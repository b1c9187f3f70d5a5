// A worker thread of machine.js: attaches to the machine's hybrid bus and runs commands.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';
import { answer } from './party.js';

const layer = attachLayer(workerData.ringbus);
parentPort.on('message', (command) => {
  if (command.op === 'close') {
    void layer.close().then(() => parentPort.close());
    return;
  }
  void answer(layer, command, (r) => parentPort.postMessage(r));
});
parentPort.postMessage({ ready: true });
