// Victim of the wake-kill test: claims an instance slot (so the core tracks the message it
// has in hand), then sends and receives on one channel, each send with a receiver counted as
// parked (so the send's wake path, assembly/wake.ts, runs every time), until it is terminated.
// Every message it sends carries a magic word and its own block address, checked when drained.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { Core } from '../../dist/wasm/core.js';

const { module, memory, r, gen, len, magic } = workerData;
const core = new Core(module, memory);
const x = core.x;
const parked = r + core.off.parked;
const id = x.instanceClaim(threadId);
const u32 = new Uint32Array(memory.buffer);
parentPort.postMessage({ id });
for (;;) {
  const h = x.alloc(len, 1);
  if (h === 0) continue;
  u32[(h + 16) >> 2] = magic;
  u32[(h + 20) >> 2] = h;
  x.parkEnter(parked, 0); // a receiver is parked and owed a notify: the send takes the token
  if (x.send(r, gen, h) !== 1) x.release(h);
  x.parkLeave(parked, 0);
  const got = x.recv(r, gen, 0);
  if (got > 1) x.release(got);
}
