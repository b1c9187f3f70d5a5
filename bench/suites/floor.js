// Suite 1, the floor: what crossing from one core to another costs before any library is
// involved. A round trip between the main thread and a worker over a SharedArrayBuffer, with
// both sides busy-spinning on Atomics.load/store (cache-line propagation), with both sides
// sleeping in Atomics.wait/notify (the kernel's wake-up), and with the main thread waiting
// through Atomics.waitAsync (how a main thread that must not block waits); and a plain SPSC
// ring of 16 B and 64 B records copied word by word, the throughput floor; and a ring of 64 KiB
// records copied in and out, the floor of a large payload.

import { HEAD, PING, PONG, RING_DATA, STOP, STOP_VALUE, TAIL } from './floor-layout.js';
import { startWorker, stopWorker } from './lib.js';

const RING_CAPACITY = 1024;

/** A ping-pong pair: a shared page and a worker answering in `mode`. */
async function openPingPong(mode) {
  const sab = new SharedArrayBuffer(4096);
  const words = new Int32Array(sab);
  const worker = await startWorker('floor.js', { mode, sab });
  let seq = 0;
  const next = () => (seq = (seq + 1) & 0x3fffffff || 1);
  const close = () =>
    stopWorker(worker, () => {
      Atomics.store(words, PING, STOP_VALUE);
      Atomics.notify(words, PING);
    });
  return { words, next, close };
}

function spinCase(quick) {
  // 20 µs a sample on a quiet machine: far above the timer's cost, yet short when an
  // oversubscribed machine stretches each spin round trip to a scheduler time slice.
  const batch = quick ? 100 : 200;
  return {
    id: 'spin-rtt',
    name: 'round trip, busy spin (SharedArrayBuffer)',
    kind: 'latency',
    unit: 'round trip',
    batch,
    async open() {
      const { words, next, close } = await openPingPong('spin');
      return {
        run() {
          for (let i = 0; i < batch; i++) {
            const v = next();
            Atomics.store(words, PING, v);
            while (Atomics.load(words, PONG) !== v);
          }
        },
        close,
      };
    },
  };
}

function waitCase(quick) {
  const batch = quick ? 10 : 20;
  return {
    id: 'wait-rtt',
    name: 'round trip, Atomics.wait/notify on both sides',
    kind: 'latency',
    unit: 'round trip',
    batch,
    async open() {
      const { words, next, close } = await openPingPong('wait');
      return {
        run() {
          for (let i = 0; i < batch; i++) {
            const v = next();
            Atomics.store(words, PING, v);
            Atomics.notify(words, PING, 1);
            let p;
            while ((p = Atomics.load(words, PONG)) !== v) Atomics.wait(words, PONG, p);
          }
        },
        close,
      };
    },
  };
}

function waitAsyncCase(quick) {
  const batch = quick ? 10 : 20;
  return {
    id: 'waitasync-rtt',
    name: 'round trip, worker Atomics.wait, main Atomics.waitAsync',
    kind: 'latency',
    unit: 'round trip',
    batch,
    async open() {
      const { words, next, close } = await openPingPong('wait');
      return {
        async: true,
        async run() {
          for (let i = 0; i < batch; i++) {
            const v = next();
            Atomics.store(words, PING, v);
            Atomics.notify(words, PING, 1);
            let p;
            while ((p = Atomics.load(words, PONG)) !== v) {
              const w = Atomics.waitAsync(words, PONG, p);
              if (w.async) await w.value;
            }
          }
        },
        close,
      };
    },
  };
}

function ringCase(recordBytes, quick) {
  const batch = quick ? 2000 : 10000;
  const recordWords = recordBytes / 4;
  return {
    id: `ring-${recordBytes}b`,
    name: `SPSC byte ring, ${recordBytes} B records, one way`,
    kind: 'rate',
    unit: 'record',
    batch,
    async open() {
      const sab = new SharedArrayBuffer(RING_DATA + RING_CAPACITY * recordBytes);
      const words = new Int32Array(sab);
      const data = new Int32Array(sab, RING_DATA, RING_CAPACITY * recordWords);
      const record = new Int32Array(recordWords).fill(0x5a5a5a5a);
      const worker = await startWorker('floor.js', { mode: 'ring', sab, capacity: RING_CAPACITY, recordWords });
      let head = 0;
      return {
        // Single producer (this thread): write a record into the next free slot, publish it by
        // advancing HEAD; at the end of the batch wait until the consumer has taken them all.
        run() {
          for (let i = 0; i < batch; i++) {
            while (((head - Atomics.load(words, TAIL)) | 0) >= RING_CAPACITY);
            const base = (head & (RING_CAPACITY - 1)) * recordWords;
            record[0] = i;
            for (let k = 0; k < recordWords; k++) data[base + k] = record[k];
            head = (head + 1) | 0;
            Atomics.store(words, HEAD, head);
          }
          while (Atomics.load(words, TAIL) !== head);
        },
        close: () => stopWorker(worker, () => Atomics.store(words, STOP, 1)),
      };
    },
  };
}

/** Slots of the byte ring: enough to keep both threads busy, few enough to stay in cache-sized memory. */
const BYTES_SLOTS = 16;

/** Polls of a byte-ring side before it sleeps (a sane ring spins briefly, then waits). */
export const BYTES_SPIN = 2000;

/** Wait until the consumer index has passed `atLeast` (spin, then Atomics.wait). */
function awaitTail(words, atLeast) {
  for (let spin = 0; ; spin++) {
    const tail = Atomics.load(words, TAIL);
    if (((tail - atLeast) | 0) >= 0) return;
    if (spin >= BYTES_SPIN) Atomics.wait(words, TAIL, tail, 1);
  }
}

/**
 * The floor of a large byte payload crossing threads: an SPSC ring of 64 KiB slots in a
 * SharedArrayBuffer. The producer copies the payload into the next free slot (one `set`),
 * the consumer copies it out into a buffer of its own (one `set`) and reads it: the two copies
 * any transfer through shared memory makes when the receiver must keep the bytes, and nothing
 * else (no framing, no codec). Each side spins briefly, then sleeps in Atomics.wait (the
 * other side notifies), so that an oversubscribed machine does not stall it on a spinner.
 */
function bytesRingCase(quick) {
  const size = 64 * 1024;
  const batch = quick ? 50 : 100;
  return {
    id: 'ring-64kib-copy',
    name: 'SPSC byte ring, 64 KiB records copied in and out, one way',
    kind: 'rate',
    unit: 'record',
    message: '64kib',
    batch,
    async open() {
      const sab = new SharedArrayBuffer(RING_DATA + BYTES_SLOTS * size);
      const words = new Int32Array(sab);
      const data = new Uint8Array(sab, RING_DATA, BYTES_SLOTS * size);
      const payload = new Uint8Array(size);
      for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff;
      const worker = await startWorker('floor.js', { mode: 'bytes-ring', sab, capacity: BYTES_SLOTS, recordBytes: size });
      let head = 0;
      return {
        run() {
          for (let i = 0; i < batch; i++) {
            awaitTail(words, (head - BYTES_SLOTS) | 0);
            payload[0] = i & 0xff;
            data.set(payload, (head & (BYTES_SLOTS - 1)) * size);
            head = (head + 1) | 0;
            Atomics.store(words, HEAD, head);
            Atomics.notify(words, HEAD, 1); // no syscall unless the consumer sleeps
          }
          awaitTail(words, head);
        },
        close: () => stopWorker(worker, () => Atomics.store(words, STOP, 1)),
      };
    },
  };
}

export default {
  name: 'floor',
  title: 'Floor: the cost of crossing cores, before any library',
  ratios: [],
  async open({ quick }) {
    if (typeof SharedArrayBuffer !== 'function' || typeof Atomics.waitAsync !== 'function') {
      return { skipped: 'this Node has no SharedArrayBuffer or Atomics.waitAsync' };
    }
    return {
      cases: [spinCase(quick), waitCase(quick), waitAsyncCase(quick), ringCase(16, quick), ringCase(64, quick), bytesRingCase(quick)],
    };
  },
};
