// Borrow stress consumer: takes messages with receiveBorrowed (now and then a plain receive)
// and keeps a window of up to `window` borrows unreleased (more than MAX_BORROWS at times, so
// that some borrows are private copies). Each message is checked when taken (CRC32, no
// duplicate, order per producer) and its held bytes are checked AGAIN when it is released,
// after the traffic of every thread went through the arena meanwhile: a view that showed any
// other message's bytes (its block freed and reused while held) fails the CRC.
import { parentPort, workerData } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { attachLayer } from '../../dist/index.js';
import { unitRandom } from './random.js';

const { handle, channels, producers, perProducer, seed } = workerData;
const layer = attachLayer(handle);
const seen = Array.from({ length: producers }, () => new Uint8Array(perProducer));
const seenGroup = Array.from({ length: producers }, () => new Uint8Array(perProducer));
const errors = [];
const rand = unitRandom(seed >>> 0 || 1);
let received = 0;
let borrowed = 0;
let shared = 0;
let recheckedLate = 0;

const fail = (text) => errors.length < 20 && errors.push(text);

async function serve(channel) {
  const last = new Array(producers).fill(-1);
  const held = [];
  let window = 1 + ((rand() * 24) | 0);
  const release = (b) => {
    const m = b.message;
    if (crc32(m.d) !== m.c) fail(`held bytes changed before release: producer ${m.p} seq ${m.s} on ${channel}`);
    if (b.release() !== true) fail(`first release of producer ${m.p} seq ${m.s} returned false`);
    if (b.release() !== false) fail(`second release of producer ${m.p} seq ${m.s} returned true`);
  };
  for (;;) {
    let m;
    if (rand() < 0.1) m = await layer.receive(channel);
    else {
      const b = await layer.receiveBorrowed(channel);
      m = b.message;
      if (m.end !== true) {
        borrowed++;
        if (m.d.buffer instanceof SharedArrayBuffer) shared++;
        held.push(b);
      } else b.release();
    }
    if (m.end === true) break;
    received++;
    if (crc32(m.d) !== m.c) fail(`corrupt: producer ${m.p} seq ${m.s} on ${channel}`);
    // Group copies (each consumer serves one member) are counted apart from the channel's.
    const marks = m.g === true ? seenGroup : seen;
    if (marks[m.p][m.s] !== 0) fail(`duplicate: producer ${m.p} seq ${m.s} on ${channel}`);
    if (m.s <= last[m.p]) fail(`out of order on ${channel}: producer ${m.p} seq ${m.s} after ${last[m.p]}`);
    marks[m.p][m.s] = 1;
    last[m.p] = m.s;
    while (held.length > window) {
      // Release a random one (not only the oldest): blocks come back in any order.
      const i = (rand() * held.length) | 0;
      release(held.splice(i, 1)[0]);
      recheckedLate++;
    }
    if (rand() < 0.01) window = 1 + ((rand() * 24) | 0);
  }
  for (const b of held.splice(0)) release(b);
}

parentPort.postMessage({ ready: true });
await Promise.all(channels.map(serve));
await layer.close();
parentPort.postMessage({ received, borrowed, shared, recheckedLate, errors, seen, seenGroup });
