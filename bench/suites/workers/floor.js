// The other side of the floor cases: raw shared-memory ping-pong and the consumer of the SPSC
// byte ring. No ringbus code, no messages: only what the hardware and the OS cost. The shared
// page's layout is in ../floor-layout.js, shared with the main thread's side.

import { parentPort, workerData } from 'node:worker_threads';
import { HEAD, PING, PONG, RING_DATA, STOP, STOP_VALUE, TAIL } from '../floor-layout.js';

const { mode, sab } = workerData;
const words = new Int32Array(sab);
parentPort.postMessage({ ready: true });

if (mode === 'spin') {
  // Busy spin: the propagation time of one cache line, each way.
  let last = 0;
  for (;;) {
    let v;
    while ((v = Atomics.load(words, PING)) === last);
    if (v === STOP_VALUE) break;
    last = v;
    Atomics.store(words, PONG, v);
  }
} else if (mode === 'wait') {
  // Sleep in the kernel until woken: the wake-up cost, each way.
  let last = 0;
  for (;;) {
    Atomics.wait(words, PING, last);
    const v = Atomics.load(words, PING);
    if (v === last) continue;
    if (v === STOP_VALUE) break;
    last = v;
    Atomics.store(words, PONG, v);
    Atomics.notify(words, PONG, 1);
  }
} else if (mode === 'ring') {
  // SPSC ring consumer (single producer, single consumer; Lamport's ring): the producer owns
  // HEAD and the slots in [TAIL, HEAD); this thread owns TAIL and the slots in [HEAD, TAIL +
  // capacity). A slot is read only after HEAD passed it, and given back by advancing TAIL.
  const { capacity, recordWords } = workerData;
  const data = new Int32Array(sab, RING_DATA, capacity * recordWords);
  const scratch = new Int32Array(recordWords);
  let tail = 0;
  let check = 0;
  for (;;) {
    const head = Atomics.load(words, HEAD);
    if (head === tail) {
      if (Atomics.load(words, STOP) !== 0) break;
      continue;
    }
    const base = (tail & (capacity - 1)) * recordWords;
    for (let k = 0; k < recordWords; k++) scratch[k] = data[base + k];
    check = (check + scratch[0]) | 0;
    tail = (tail + 1) | 0;
    Atomics.store(words, TAIL, tail);
  }
  parentPort.postMessage({ check });
} else if (mode === 'bytes-ring') {
  // The same SPSC ring with byte records: copy each one out into a buffer of this thread
  // (as a receiver that keeps the bytes must), read it, give the slot back. Spins briefly when
  // empty, then sleeps (1 ms at most, so that STOP is seen).
  const { capacity, recordBytes } = workerData;
  const data = new Uint8Array(sab, RING_DATA, capacity * recordBytes);
  let tail = 0;
  let check = 0;
  for (let spin = 0; ; ) {
    const head = Atomics.load(words, HEAD);
    if (head === tail) {
      if (Atomics.load(words, STOP) !== 0) break;
      if (++spin >= 2000) Atomics.wait(words, HEAD, head, 1); // the producer notifies HEAD
      continue;
    }
    spin = 0;
    const at = (tail & (capacity - 1)) * recordBytes;
    const out = new Uint8Array(recordBytes);
    out.set(data.subarray(at, at + recordBytes));
    check = (check + out[0]) | 0;
    tail = (tail + 1) | 0;
    Atomics.store(words, TAIL, tail);
    Atomics.notify(words, TAIL, 1);
  }
  parentPort.postMessage({ check });
} else {
  throw new Error(`unknown floor mode ${JSON.stringify(mode)}`);
}
