// Suite 1, the floor: what crossing from one core to another costs before any library is
// involved. A round trip between the main thread and a worker over a SharedArrayBuffer, with
// both sides busy-spinning on Atomics.load/store (cache-line propagation), with both sides
// sleeping in Atomics.wait/notify (the kernel's wake-up), and with the main thread waiting
// through Atomics.waitAsync (how a main thread that must not block waits); and a plain SPSC
// ring of 16 B and 64 B records copied word by word, the throughput floor.

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

export default {
  name: 'floor',
  title: 'Floor: the cost of crossing cores, before any library',
  ratios: [],
  async open({ quick }) {
    if (typeof SharedArrayBuffer !== 'function' || typeof Atomics.waitAsync !== 'function') {
      return { skipped: 'this Node has no SharedArrayBuffer or Atomics.waitAsync' };
    }
    return {
      cases: [spinCase(quick), waitCase(quick), waitAsyncCase(quick), ringCase(16, quick), ringCase(64, quick)],
    };
  },
};
