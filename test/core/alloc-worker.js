// Allocator stress worker: allocates and frees blocks of random sizes straight through the
// core (allocScratch / release), writes a pattern derived from (tag, offset) into every block
// and checks it before freeing, so two live blocks that overlap are caught. With `table`, it
// records its live blocks in shared memory ([handle, length, tag] per slot; the handle is
// published last and cleared first) so that the main thread can check and free them after
// terminating it.
import { parentPort, workerData } from 'node:worker_threads';
import { Core } from '../../dist/wasm/core.js';
import { xorshift32 } from './random.js';

const { module, memory, seed, iterations, maxLive, maxSize, table: tableBuffer } = workerData;
const core = new Core(module, memory);
const x = core.x;
const i32 = core.i32;
const u8 = core.u8;
const table = tableBuffer ? new Int32Array(tableBuffer) : undefined;

const rand = xorshift32(seed >>> 0 || 1);
function randomSize() {
  const r = rand() % 100;
  if (r < 60) return rand() % 257;
  if (r < 92) return rand() % 8193;
  return rand() % (maxSize + 1);
}

/** Word i of the pattern of block `tag`. */
const word = (tag, i) => (Math.imul(i + 1, 0x9e3779b1) ^ tag) | 0;

export function fill(h, len, tag) {
  const base = (h + 16) >> 2;
  const words = len >> 2;
  for (let i = 0; i < words; i++) i32[base + i] = word(tag, i);
  for (let b = words * 4; b < len; b++) u8[h + 16 + b] = tag & 0xff;
}

/** The first problem with block (h, len, tag), or undefined. */
export function problem(h, len, tag) {
  if (h % 8 !== 0 || h + 16 + len > u8.length) return `block ${h} (+${len}) out of bounds or misaligned`;
  if (x.blockLength(h) !== len) return `block ${h}: length ${x.blockLength(h)}, expected ${len}`;
  if (i32[h >> 2] !== 1) return `block ${h}: refcount ${i32[h >> 2]}, expected 1`;
  const base = (h + 16) >> 2;
  const words = len >> 2;
  for (let i = 0; i < words; i++) {
    if (i32[base + i] !== word(tag, i)) return `block ${h} (+${len}, tag ${tag}): word ${i} overwritten`;
  }
  for (let b = words * 4; b < len; b++) {
    if (u8[h + 16 + b] !== (tag & 0xff)) return `block ${h} (+${len}, tag ${tag}): byte ${b} overwritten`;
  }
  return undefined;
}

const live = []; // { h, len, tag, slot }
const freeSlots = Array.from({ length: maxLive }, (_, i) => maxLive - 1 - i);
let allocs = 0;
let frees = 0;
let fails = 0;
let bytes = 0;
const errors = [];
for (let it = 0; it < iterations && errors.length === 0; it++) {
  if (live.length < maxLive && (live.length === 0 || rand() % 2 === 0)) {
    const len = randomSize();
    const h = x.allocScratch(len);
    if (h === 0) {
      fails++;
      continue;
    }
    const tag = rand() | 0;
    fill(h, len, tag);
    const slot = freeSlots.pop();
    if (table) {
      table[slot * 3 + 1] = len;
      table[slot * 3 + 2] = tag;
      Atomics.store(table, slot * 3, h);
    }
    live.push({ h, len, tag, slot });
    allocs++;
    bytes += len;
  } else {
    const k = rand() % live.length;
    const b = live[k];
    live[k] = live[live.length - 1];
    live.pop();
    if (table) Atomics.store(table, b.slot * 3, 0);
    const p = problem(b.h, b.len, b.tag);
    if (p) errors.push(p);
    x.release(b.h);
    freeSlots.push(b.slot);
    frees++;
  }
}
for (const b of live) {
  if (table) Atomics.store(table, b.slot * 3, 0);
  const p = problem(b.h, b.len, b.tag);
  if (p) errors.push(p);
  x.release(b.h);
  frees++;
}
parentPort.postMessage({ allocs, frees, fails, bytes, errors });
