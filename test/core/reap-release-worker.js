// Victim of the reap-release test: claims an instance slot (so the core tracks the message it
// has in hand) and then only allocates and releases messages, one at a time, until it is
// terminated. Its kill lands inside `release` (in the page allocator's free path) often.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { Core } from '../../dist/wasm/core.js';

const { module, memory, len } = workerData;
const core = new Core(module, memory);
const x = core.x;
const id = x.instanceClaim(threadId);
parentPort.postMessage({ id });
for (;;) {
  const h = x.alloc(len, 1);
  if (h !== 0) x.release(h);
}
