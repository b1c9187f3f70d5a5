/**
 * The message decoder: reads any plain msgpack (ours, or Python's `msgpack` as used by
 * channels_redis) into the values of the message contract, and refuses, with an `Error`
 * naming the offset and the reason, what it cannot deliver unchanged:
 *
 * - maps become plain objects (prototype `Object.prototype`); a `__proto__` key becomes an
 *   own property of that name (never the prototype); keys that are `bin` (Python `bytes`)
 *   become the string of their UTF-8 bytes, integer keys their decimal string; a key of any
 *   other type, or two keys that end up equal, make the bytes undecodable;
 * - `bin` becomes a fresh `Uint8Array` (a copy, never a view of the input; the byte strings of
 *   one value share one buffer, which holds nothing else), unless the caller hands the input
 *   over (`views`): then a view of it, without a copy;
 * - integers become numbers when they are safe integers, `bigint`s beyond 2^53; floats
 *   (float32 or float64) become numbers, NaN and ±Infinity included;
 * - strings must be well-formed UTF-8 (nothing is replaced by U+FFFD);
 * - nesting deeper than {@link MAX_DEPTH} is refused (the decoder never recurses further,
 *   whatever the input), as are extension types, reserved bytes, truncated input and
 *   trailing bytes.
 *
 * @module
 */

import { MAX_DEPTH, RECORD_EXT } from './encode.js';

/**
 * Where a records decode (src/codec/records.ts) finds structures: `reader(id)` builds the
 * object of structure `id` by calling `value()` once per key, in order, or is undefined when
 * the bus has no published structure `id` (the bytes are then undecodable).
 */
export interface StructureSource {
  reader(id: number): ((value: () => unknown) => Record<string, unknown>) | undefined;
}

/** Bytes that are not a message this decoder can deliver unchanged. */
export class DecodeError extends Error {
  override name = 'DecodeError';
}

/** Strings shorter than this many bytes are decoded in JS; longer ones by TextDecoder. */
const SHORT_STRING = 32;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const f32 = new Float32Array(1);
const f32Bytes = new Uint8Array(f32.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const EMPTY = new Uint8Array(0);
let src: Uint8Array = EMPTY;
let pos = 0;
let end = 0;
let binViews = false;

/**
 * Decode one msgpack value that fills `bytes` exactly. `views`: `bytes` belongs to the result
 * from now on (a buffer of this value alone, never modified or reused by the caller), so
 * `bin` values are views of it instead of copies.
 */
export function decodeValue(bytes: Uint8Array, views = false, records: StructureSource | null = null): unknown {
  src = bytes;
  pos = 0;
  end = bytes.length;
  binViews = views;
  structures = records;
  try {
    const value = read(0);
    if (pos !== end) fail(`${end - pos} bytes after the end of the value`);
    return value;
  } finally {
    src = EMPTY; // do not keep the caller's buffer alive
    binArena = EMPTY; // the next value's byte strings never share this one's buffer
    binArenaUsed = 0;
    structures = null;
  }
}

/** The structures of the current records decode; null: plain msgpack only (ext refused). */
let structures: StructureSource | null = null;
/** Depth of the record being read (for the values its reader asks for). */
let recordDepth = 0;
const readRecordValue = (): unknown => read(recordDepth + 1);

/** A record (ext of type RECORD_EXT, `length` payload bytes at `pos`, its type byte next). */
function readExt(length: number, depth: number): unknown {
  need(1);
  const type = src[pos] as number;
  if (type !== RECORD_EXT) return fail(`extension of type ${type} is not a record (type ${RECORD_EXT})`);
  enter(depth);
  pos++;
  const stop = pos + length;
  if (length < 2 || stop > end) fail(`truncated record (${length} bytes announced, ${end - pos} left)`);
  const id = u16();
  const reader = (structures as StructureSource).reader(id);
  if (reader === undefined) {
    pos -= 2;
    return fail(`record of structure ${id}, which this bus never published`);
  }
  const outer = recordDepth;
  recordDepth = depth;
  let object: Record<string, unknown>;
  try {
    object = reader(readRecordValue);
  } finally {
    recordDepth = outer;
  }
  if (pos !== stop) fail(`record of structure ${id} holds ${length} bytes but its values end at byte ${pos}`);
  return object;
}

function fail(reason: string): never {
  throw new DecodeError(`undecodable msgpack at byte ${pos}: ${reason}`);
}

function need(bytes: number): void {
  if (pos + bytes > end) fail(`truncated (${bytes} more bytes expected, ${end - pos} left)`);
}

function u8(): number {
  need(1);
  return src[pos++] as number;
}

function u16(): number {
  need(2);
  const v = ((src[pos] as number) << 8) | (src[pos + 1] as number);
  pos += 2;
  return v;
}

function u32(): number {
  need(4);
  const v = (src[pos] as number) * 0x1000000 + (((src[pos + 1] as number) << 16) | ((src[pos + 2] as number) << 8) | (src[pos + 3] as number));
  pos += 4;
  return v;
}

function read(depth: number): unknown {
  if (pos >= end) fail('truncated (a value expected)');
  const b = src[pos++] as number;
  if (b < 0x80) return b;
  if (b < 0x90) return readMap(b & 0x0f, depth);
  if (b < 0xa0) return readArray(b & 0x0f, depth);
  if (b < 0xc0) return readString(b & 0x1f);
  if (b >= 0xe0) return b - 0x100;
  switch (b) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return readBin(u8());
    case 0xc5:
      return readBin(u16());
    case 0xc6:
      return readBin(u32());
    case 0xca:
      return readFloat32();
    case 0xcb:
      return readFloat64();
    case 0xcc:
      return u8();
    case 0xcd:
      return u16();
    case 0xce:
      return u32();
    case 0xcf:
      return readUint64();
    case 0xd0:
      return (u8() << 24) >> 24;
    case 0xd1:
      return (u16() << 16) >> 16;
    case 0xd2:
      return u32() | 0;
    case 0xd3:
      return readInt64();
    case 0xd9:
      return readString(u8());
    case 0xda:
      return readString(u16());
    case 0xdb:
      return readString(u32());
    case 0xdc:
      return readArray(u16(), depth);
    case 0xdd:
      return readArray(u32(), depth);
    case 0xde:
      return readMap(u16(), depth);
    case 0xdf:
      return readMap(u32(), depth);
    case 0xc1:
      pos--;
      return fail('byte 0xc1 is never used in msgpack');
    case 0xc7:
    case 0xc8:
    case 0xc9:
      if (structures === null) break; // plain msgpack: refused below, as every extension
      return readExt(b === 0xc7 ? u8() : b === 0xc8 ? u16() : u32(), depth);
  }
  pos--;
  return fail(`extension type 0x${b.toString(16)} is not part of a message (only plain msgpack is)`);
}

function enter(depth: number): void {
  if (depth >= MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH} levels (the maximum depth of a message)`);
}

function readArray(length: number, depth: number): unknown[] {
  enter(depth);
  // Every element takes at least one byte: a length beyond the input is a lie, not an allocation.
  if (length > end - pos) fail(`array of ${length} elements in ${end - pos} bytes`);
  const array = new Array<unknown>(length);
  for (let i = 0; i < length; i++) array[i] = read(depth + 1);
  return array;
}

function readMap(count: number, depth: number): Record<string, unknown> {
  enter(depth);
  if (count * 2 > end - pos) fail(`map of ${count} entries in ${end - pos} bytes`);
  const object: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    const at = pos;
    const key = readKey();
    if (Object.prototype.hasOwnProperty.call(object, key)) {
      pos = at;
      fail(`duplicate map key ${JSON.stringify(key)}`);
    }
    const value = read(depth + 1);
    if (key === '__proto__') {
      // `object[key] = value` would set the prototype: define the own property instead.
      Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
    } else object[key] = value;
  }
  return object;
}

/**
 * Recently decoded short strings (keys and values), by (length, first, second and last
 * byte): messages repeat their keys and many of their values, and comparing a few bytes is
 * cheaper than building the string again. Slot i keeps its bytes at `cacheBytes[i * 32]`
 * (no allocation on a miss but the string itself).
 */
const CACHE_SLOTS = 4096;
const CACHED = 32;
const cacheBytes = new Uint8Array(CACHE_SLOTS * CACHED);
const cacheLength = new Int32Array(CACHE_SLOTS).fill(-1);
const cacheString: string[] = new Array<string>(CACHE_SLOTS).fill('');

/** A valid-UTF-8 string of `length` (< 32) bytes at `pos`, from the cache when it was seen before. */
function cachedString(length: number, what: string): string {
  need(length);
  const start = pos;
  const s = src;
  const slot =
    length === 0
      ? 0
      : ((length << 7) ^ ((s[start] as number) << 4) ^ ((s[start + (length >> 1)] as number) << 1) ^ (s[start + length - 1] as number)) &
        (CACHE_SLOTS - 1);
  const base = slot * CACHED;
  if (cacheLength[slot] === length) {
    let k = 0;
    while (k < length && cacheBytes[base + k] === s[start + k]) k++;
    if (k === length) {
      pos = start + length;
      return cacheString[slot] as string;
    }
  }
  const string = decodeString(length, what);
  cacheBytes.set(s.subarray(start, start + length), base);
  cacheLength[slot] = length;
  cacheString[slot] = string;
  return string;
}

function readKey(): string {
  if (pos >= end) fail('truncated (a map key expected)');
  const b = src[pos] as number;
  if (b >= 0xa0 && b < 0xc0) {
    pos++;
    return cachedString(b & 0x1f, 'a string key');
  }
  switch (b) {
    case 0xd9:
      pos++;
      return readString(u8());
    case 0xda:
      pos++;
      return readString(u16());
    case 0xdb:
      pos++;
      return readString(u32());
    case 0xc4:
      pos++;
      return readString(u8(), 'a bytes key');
    case 0xc5:
      pos++;
      return readString(u16(), 'a bytes key');
    case 0xc6:
      pos++;
      return readString(u32(), 'a bytes key');
  }
  if (b < 0x80 || b >= 0xe0 || (b >= 0xcc && b <= 0xd3 && b !== 0xca && b !== 0xcb)) return String(read(0));
  return fail(`a map key of type 0x${b.toString(16)} (keys must be strings, bytes or integers)`);
}

/**
 * Byte strings up to this many bytes get an array of their own (V8 keeps such small typed
 * arrays on its heap, far cheaper than a buffer); longer ones share {@link binArena}.
 */
const OWN_BIN_MAX = 64;

/**
 * Where the byte strings of the value being decoded are copied (copying mode): one buffer per
 * decoded value, made at its first byte string longer than {@link OWN_BIN_MAX} and sized by the
 * input bytes left (which bound every byte string still to come), instead of a buffer per
 * byte string. Its `.buffer` thus holds this value's byte strings only (and zeros).
 */
let binArena: Uint8Array = EMPTY;
let binArenaUsed = 0;

function readBin(length: number): Uint8Array {
  need(length);
  if (binViews) {
    const view = src.subarray(pos, pos + length);
    pos += length;
    return view;
  }
  let out: Uint8Array;
  if (length <= OWN_BIN_MAX) out = new Uint8Array(length);
  else {
    if (binArenaUsed + length > binArena.length) {
      binArena = new Uint8Array(end - pos);
      binArenaUsed = 0;
    }
    out = binArena.subarray(binArenaUsed, binArenaUsed + length);
    binArenaUsed += length;
  }
  out.set(src.subarray(pos, pos + length));
  pos += length;
  return out;
}

function readString(length: number, what = 'a string'): string {
  return length < CACHED ? cachedString(length, what) : decodeString(length, what);
}

function decodeString(length: number, what: string): string {
  need(length);
  const start = pos;
  if (length >= SHORT_STRING) {
    pos += length;
    try {
      return utf8.decode(src.subarray(start, pos));
    } catch {
      pos = start;
      return fail(`${what} of ${length} bytes that is not valid UTF-8`);
    }
  }
  const stop = start + length;
  let ascii = true;
  for (let k = start; k < stop; k++) {
    if ((src[k] as number) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    pos = stop;
    return asciiString(start, length);
  }
  let out = '';
  let i = start;
  while (i < stop) {
    const b0 = src[i] as number;
    if (b0 < 0x80) {
      out += String.fromCharCode(b0);
      i++;
      continue;
    }
    let cp: number;
    let size: number;
    let min: number;
    if (b0 >= 0xc2 && b0 < 0xe0) {
      cp = b0 & 0x1f;
      size = 2;
      min = 0x80;
    } else if (b0 >= 0xe0 && b0 < 0xf0) {
      cp = b0 & 0x0f;
      size = 3;
      min = 0x800;
    } else if (b0 >= 0xf0 && b0 < 0xf5) {
      cp = b0 & 0x07;
      size = 4;
      min = 0x10000;
    } else break;
    if (i + size > stop) break;
    let ok = true;
    for (let k = 1; k < size; k++) {
      const c = src[i + k] as number;
      if ((c & 0xc0) !== 0x80) ok = false;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (!ok || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) break;
    out += String.fromCodePoint(cp);
    i += size;
  }
  if (i < stop) {
    pos = i;
    return fail(`${what} of ${length} bytes that is not valid UTF-8`);
  }
  pos = stop;
  return out;
}

const fromCharCode = String.fromCharCode;
const codes: number[] = [];

/** The ASCII bytes at `start`: a few `fromCharCode` calls with fixed arity (no array, no view). */
function asciiString(start: number, length: number): string {
  const s = src;
  if (length <= 4) {
    if (length === 0) return '';
    if (length === 1) return fromCharCode(s[start] as number);
    if (length === 2) return fromCharCode(s[start] as number, s[start + 1] as number);
    if (length === 3) return fromCharCode(s[start] as number, s[start + 1] as number, s[start + 2] as number);
    return fromCharCode(s[start] as number, s[start + 1] as number, s[start + 2] as number, s[start + 3] as number);
  }
  if (length <= 16) {
    const head = fromCharCode(s[start] as number, s[start + 1] as number, s[start + 2] as number, s[start + 3] as number);
    return head + asciiString(start + 4, length - 4);
  }
  codes.length = length;
  for (let k = 0; k < length; k++) codes[k] = s[start + k] as number;
  return fromCharCode.apply(null, codes);
}

function readFloat64(): number {
  need(8);
  if (LITTLE_ENDIAN) for (let k = 0; k < 8; k++) f64Bytes[k] = src[pos + 7 - k] as number;
  else for (let k = 0; k < 8; k++) f64Bytes[k] = src[pos + k] as number;
  pos += 8;
  return f64[0] as number;
}

function readFloat32(): number {
  need(4);
  if (LITTLE_ENDIAN) for (let k = 0; k < 4; k++) f32Bytes[k] = src[pos + 3 - k] as number;
  else for (let k = 0; k < 4; k++) f32Bytes[k] = src[pos + k] as number;
  pos += 4;
  return f32[0] as number;
}

function readUint64(): number | bigint {
  const hi = u32();
  const lo = u32();
  if (hi < 0x200000) return hi * 0x100000000 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function readInt64(): number | bigint {
  const hi = u32() | 0;
  const lo = u32();
  // Safe when hi is within [-2^21, 2^21): the value is hi * 2^32 + lo, exact as a double.
  if (hi >= -0x200000 && hi < 0x200000) {
    const value = hi * 0x100000000 + lo;
    if (Number.isSafeInteger(value)) return value;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}
