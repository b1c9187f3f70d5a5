// Wake-storm producer: sends `count` numbered messages to one channel, one awaited send (or
// sendMany of `batch`) at a time, as fast as it can; reports its stats' waits and notifies.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';

const { handle, channel, count, batch } = workerData;
const layer = attachLayer(handle);
for (let s = 0; s < count; ) {
  if (batch > 1) {
    const n = Math.min(batch, count - s);
    await layer.sendMany(channel, Array.from({ length: n }, (_, i) => ({ s: s + i })));
    s += n;
  } else {
    await layer.send(channel, { s: s++ });
  }
}
const { waits, notifies } = layer.stats();
await layer.close();
parentPort.postMessage({ waits, notifies });
