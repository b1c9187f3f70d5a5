// Suite: the core alone across two threads. A producer (this thread) and a consumer (a worker)
// call only the core's exports in a loop: alloc a 16-byte message, write its payload (a
// sequence number and three words), push it on a channel; pop, read, release. Against a plain
// SharedArrayBuffer SPSC ring of 16-byte records doing the same handoff in the same run (the
// floor suite's ring, measured again here so `--filter core` is self-contained). Two variants
// of the core: with the channel pinned once for the run (how the layer's fast paths use a hot
// channel, an instance-held pin: assembly/holds.ts) and with a pin and unpin per operation.
// Internal access to the layer's core (`layer.core`, the channel's record) for this bench only.

import { createLayer } from '../../dist/index.js';
import { HEAD, RING_DATA, STOP, TAIL } from './floor-layout.js';
import { backendUnavailable, startWorker, stopWorker } from './lib.js';

const RING_CAPACITY = 1024;
const RECORD_WORDS = 4;

function jsRingCase(quick) {
  const batch = quick ? 2000 : 10000;
  return {
    id: 'jsring-16b',
    name: 'plain SharedArrayBuffer SPSC ring, 16 B records, one way',
    kind: 'rate',
    unit: 'message',
    batch,
    async open() {
      const sab = new SharedArrayBuffer(RING_DATA + RING_CAPACITY * RECORD_WORDS * 4);
      const words = new Int32Array(sab);
      const data = new Int32Array(sab, RING_DATA, RING_CAPACITY * RECORD_WORDS);
      const worker = await startWorker('floor.js', { mode: 'ring', sab, capacity: RING_CAPACITY, recordWords: RECORD_WORDS });
      let head = 0;
      return {
        run() {
          for (let i = 0; i < batch; i++) {
            while (((head - Atomics.load(words, TAIL)) | 0) >= RING_CAPACITY);
            const base = (head & (RING_CAPACITY - 1)) * RECORD_WORDS;
            data[base] = i;
            data[base + 1] = 0x5a5a5a5a;
            data[base + 2] = 0x5a5a5a5a;
            data[base + 3] = 0x5a5a5a5a;
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

function coreCase(held, quick) {
  const batch = quick ? 2000 : 10000;
  return {
    id: held ? 'core-held-16b' : 'core-pinned-16b',
    name: held
      ? 'core only, two threads: alloc + push / pop + release, 16 B, channel held'
      : 'core only, two threads: alloc + push / pop + release, 16 B, pin per operation',
    kind: 'rate',
    unit: 'message',
    batch,
    async open(round) {
      const layer = await createLayer({ capacity: RING_CAPACITY });
      const name = `bench.core.${held ? 'held' : 'pinned'}.${round}`;
      // Resolve the channel through the layer once (creates it), then use the record directly.
      await layer.send(name, { n: 0 });
      await layer.receive(name);
      const ref = layer.channels.get(name);
      const { rec, gen } = ref;
      const core = layer.core;
      const x = core.x;
      const i32 = core.i32;
      const counter = new Int32Array(new SharedArrayBuffer(16));
      const worker = await startWorker('core.js', { handle: layer.handle, rec, gen, held, counter: counter.buffer });
      if (held && x.pinRecord(rec, gen) !== 1) throw new Error('channel record is stale');
      let seq = 0;
      return {
        run() {
          for (let i = 0; i < batch; i++) {
            let h;
            while ((h = x.alloc(16, 0)) === 0);
            const w = (h + 16) >> 2;
            i32[w] = seq;
            i32[w + 1] = 0x5a5a5a5a;
            i32[w + 2] = 0x5a5a5a5a;
            i32[w + 3] = 0x5a5a5a5a;
            seq = (seq + 1) | 0;
            if (held) while (x.pushPinned(rec, h) === 0);
            else while (x.send(rec, gen, h) !== 1);
          }
          // Until the consumer took them all (it publishes its count every 64, or when asked).
          Atomics.store(counter, 2, seq);
          while (Atomics.load(counter, 0) !== seq);
        },
        close: async () => {
          await stopWorker(worker, () => Atomics.store(counter, 1, 1));
          if (held) x.unpinRecord(rec);
          await layer.close();
        },
      };
    },
  };
}

export default {
  name: 'core',
  title: 'The core alone across two threads, against a plain JS ring',
  ratios: [
    {
      label: 'core only, channel held (alloc, push, pop, release) / plain JS ring',
      of: 'core/core-held-16b',
      over: 'core/jsring-16b',
      kind: 'time',
      headline: true,
      goal: { value: 2, source: 'issue 10' },
    },
    { label: 'core only, pin per operation / plain JS ring', of: 'core/core-pinned-16b', over: 'core/jsring-16b', kind: 'time' },
    { label: 'core only, channel held / pin per operation', of: 'core/core-held-16b', over: 'core/core-pinned-16b', kind: 'time' },
  ],
  async open({ quick }) {
    const skip = await backendUnavailable();
    if (skip) return skip;
    return { cases: [jsRingCase(quick), coreCase(true, quick), coreCase(false, quick)] };
  },
};
