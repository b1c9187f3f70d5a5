// Records kill test worker (test/core/records-kill.test.ts).
// mode 'reserve': plays a writer killed mid-append: reserves the next table entry and some key
//   bytes by the same CAS as an append (src/codec/records.ts), reports, and never publishes
//   (the test terminates it).
// mode 'append': sends messages of ever new shapes with records: true as fast as it can, each
//   { seq, [`w${round}k${seq}`]: seq }, until terminated at a random moment.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';
import { Core } from '../../dist/wasm/core.js';

const { handle, mode, channel, round } = workerData;
if (mode === 'reserve') {
  const core = new Core(handle.module, handle.memory);
  const base = Atomics.load(core.i32, core.x.recordsWord() >> 2);
  const w = (base >> 2) + 3; // RESERVE: count << 17 | key bytes used
  for (;;) {
    const r = Atomics.load(core.i32, w);
    if (Atomics.compareExchange(core.i32, w, r, (((r >>> 17) + 1) << 17) | ((r & 0x1ffff) + 8)) === r) {
      parentPort.postMessage({ reserved: r >>> 17 });
      break;
    }
  }
  setInterval(() => {}, 1000); // alive until terminated, entry never published
} else {
  const layer = attachLayer({ ...handle, options: { ...handle.options, records: true } });
  parentPort.postMessage({ ready: true });
  for (let seq = 0; ; seq++) {
    try {
      layer.trySend(channel, { seq, [`w${round}k${seq}`]: seq, tail: { [`t${round}.${seq}`]: [seq, -0] } });
    } catch (err) {
      parentPort.postMessage({ error: String(err) });
      break;
    }
    if (seq % 64 === 0) await new Promise((r) => setImmediate(r));
  }
}
