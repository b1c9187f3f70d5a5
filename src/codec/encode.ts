/**
 * The message encoder: ONE walk over a message that validates each value and writes it as
 * msgpack, so that what is sent is exactly what was checked. Every property is read once
 * (a getter runs once, a Proxy's traps run once per key), and nothing the walk did not
 * check can reach the bytes. The rules it enforces are the message contract of
 * `src/codec.ts`; each refusal is a `TypeError` naming the path of the value and the rule.
 *
 * Output format (plain msgpack, readable by Python's `msgpack`):
 * - integral numbers (not `-0`) as the smallest msgpack int that holds them, so a safe
 *   integer beyond 32 bits is an int64/uint64, never a float; every other number (fractions,
 *   `-0`, NaN, ±Infinity) as float64, which carries it bit for bit;
 * - a `bigint` as int64 (negative or below 2^63) or uint64;
 * - strings as str (UTF-8), `Uint8Array` as bin, arrays as array, objects as map with string keys.
 *
 * The output lands in one scratch buffer reused by every call: a result is valid until the
 * next `encodeMessage` call.
 *
 * Large byte strings (at least {@link DEFER_MIN} bytes) are not copied into the scratch buffer
 * during the walk: only their header is written, and the walk remembers where their bytes go.
 * `flatten` then puts them in place (the plain `encodeMessage` result), while `writeStaged`
 * copies the scratch pieces and the byte strings straight to their destination (the shared
 * layer's arena block): a large payload is copied once on the send side instead of twice.
 * Nothing of the caller runs between the walk and either step (they read only the bytes of
 * the `Uint8Array`s the walk checked), so what is written is still exactly what was checked.
 *
 * @module
 */

import { quote } from '../quote.js';

/** Deepest nesting of objects and arrays in a message (the message itself is level 1). */
export const MAX_DEPTH = 100;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** Strings shorter than this are UTF-8 encoded (and checked) in JS; longer ones natively. */
const SHORT_STRING = 64;

let buf = new Uint8Array(8192);
let nodeBuf = Buffer.from(buf.buffer, 0, buf.length);
let view = new DataView(buf.buffer);
let pos = 0;

/** Byte strings of at least this many bytes are copied once, at `flatten` or `writeStaged` time. */
export const DEFER_MIN = 4096;

/**
 * The deferred byte strings of the current walk: `deferredAt[i]` is the scratch position where
 * the bytes of `deferredBin[i]` belong (the scratch holds everything else, without gaps), in
 * increasing order; `deferredBytes` their total length.
 */
const deferredAt: number[] = [];
const deferredBin: Array<Uint8Array | undefined> = [];
let deferredCount = 0;
let deferredBytes = 0;
/** Incremented by every walk: a staged encoding is written only by the walk that made it. */
let walks = 0;

/** Containers and keys on the path to the value being written, by depth (for errors and cycles). */
const containers: unknown[] = [];
/** The deepest index of `containers` set by the current call. */
let deepest = 0;
const pathKeys: Array<string | number> = [];

function grow(needed: number): void {
  let size = buf.length * 2;
  while (size < needed) size *= 2;
  const next = new Uint8Array(size);
  next.set(buf.subarray(0, pos));
  buf = next;
  nodeBuf = Buffer.from(buf.buffer, 0, buf.length);
  view = new DataView(buf.buffer);
}

function ensure(bytes: number): void {
  if (pos + bytes > buf.length) grow(pos + bytes);
}

/**
 * Where the records encoding (src/codec/records.ts) finds structure ids: the walk asks it
 * for the id of each plain object's key list, and writes the object as a record when it has
 * one. The walk itself (validation, numbers, strings) is the same code either way, so the
 * records encoding refuses exactly what the plain one refuses, with the same errors.
 */
export interface ShapeSource {
  /**
   * The structure id of `keys` (in order), or -1: write a plain map. `top`: the message
   * itself, whose shape may never be one holding the routing field (a nested object may).
   */
  idOf(keys: string[], top: boolean): number;
  /** `keys` was written as a plain map (all of them checked): a candidate for a structure. */
  missed(keys: string[]): void;
  /** The message was encoded: register the candidates. */
  commit(): void;
  /** The message was refused: forget the candidates. */
  abandon(): void;
}

/** Extension type of a record: `ext(RECORD_EXT)` = u16 structure id, then the values in order. */
export const RECORD_EXT = 0x52;
/** Objects with more keys than this are always plain maps (a structure is a bounded thing). */
export const RECORD_MAX_KEYS = 64;

/** The shape source of the current call (null: plain msgpack, no ext is ever written). */
let shapes: ShapeSource | null = null;

/**
 * Check and encode `message`; returns a view of the scratch buffer holding its bytes.
 * Throws a `TypeError` naming the path (`message.a[2].b`) and the rule for the first value
 * refused. `records`: write objects of known shapes as records (shared memory only; see
 * src/codec/records.ts); without it the output is plain msgpack.
 */
export function encodeMessage(message: unknown, records: ShapeSource | null = null): Uint8Array {
  walkMessage(message, records);
  return flatten();
}

/**
 * Check and encode `message` without putting its large byte strings in place yet: what
 * {@link stagedLength}, {@link flatten} and {@link writeStaged} then use. Returns the walk's
 * number (for `writeStaged`). Throws as `encodeMessage`; `records` as there.
 */
export function walkMessage(message: unknown, records: ShapeSource | null = null): number {
  pos = 0;
  forgetDeferred();
  walks++;
  shapes = records;
  try {
    writeMessage(message);
    if (records !== null) records.commit();
  } catch (error) {
    if (records !== null) records.abandon();
    if (error instanceof Refusal) throw new TypeError(error.describe(pathOf('message', error.depth)));
    throw error;
  } finally {
    shapes = null;
    // Drop references to the caller's objects (the arrays stay allocated for reuse).
    for (let d = 0; d <= deepest; d++) containers[d] = undefined;
    deepest = 0;
  }
  return walks;
}

/** Encoded length of the last walk, deferred byte strings included. */
export function stagedLength(): number {
  return pos + deferredBytes;
}

/** The last walk's encoding, contiguous, in the scratch buffer (deferred byte strings moved in). */
export function flatten(): Uint8Array {
  if (deferredCount > 0) {
    const total = pos + deferredBytes;
    ensure(deferredBytes);
    // From the last piece back: move each scratch piece right by the bytes deferred before it
    // ends, then put the byte string in front of it.
    let end = pos;
    let shift = deferredBytes;
    for (let i = deferredCount - 1; i >= 0; i--) {
      const at = deferredAt[i] as number;
      const bin = deferredBin[i] as Uint8Array;
      if (end > at) buf.copyWithin(at + shift, at, end);
      shift -= bin.length;
      buf.set(bin, at + shift);
      end = at;
    }
    pos = total;
    forgetDeferred();
  }
  return buf.subarray(0, pos);
}

/**
 * Write the encoding of walk `walk` (the last one) to `target` at `at`: the scratch pieces and
 * the deferred byte strings, each copied once; once only. Throws if it was written already or
 * another walk ran since (its bytes are gone); `checkOnly`: only that check.
 */
export function writeStaged(walk: number, target: Uint8Array, at: number, checkOnly = false): void {
  if (walk !== walks) throw new Error(`internal: staged encoding ${walk} was already written or overwritten (now ${walks})`);
  if (checkOnly) return;
  let from = 0;
  let to = at;
  for (let i = 0; i < deferredCount; i++) {
    const end = deferredAt[i] as number;
    const bin = deferredBin[i] as Uint8Array;
    if (end > from) target.set(buf.subarray(from, end), to);
    to += end - from;
    copyBin(bin, target, to);
    to += bin.length;
    from = end;
  }
  if (pos > from) target.set(buf.subarray(from, pos), to);
  // Written once: drop the references to the caller's byte strings (they must not be kept
  // alive by the codec) and retire the walk.
  forgetDeferred();
  walks++;
}

/** A private buffer that re-aligns byte strings on their way to shared memory (see copyBin). */
let bounce = new Uint8Array(0);

/**
 * Copy `bin` to `target` at `at`. V8 copies into and out of a SharedArrayBuffer with relaxed
 * atomic words only when source and destination are aligned alike (mod 8); otherwise it
 * copies byte by byte, about 8 times slower than two plain copies (measured: 64 KiB in 24 µs
 * against 2.8 µs aligned). So a byte string whose alignment differs from its destination's
 * goes through `bounce` at the destination's alignment: a plain copy, then an aligned one.
 */
function copyBin(bin: Uint8Array, target: Uint8Array, at: number): void {
  const dst = (target.byteOffset + at) & 7;
  if (!(target.buffer instanceof SharedArrayBuffer) || (bin.byteOffset & 7) === dst) {
    target.set(bin, at);
    return;
  }
  const need = bin.length + 8;
  if (bounce.length < need) bounce = new Uint8Array(Math.max(need, bounce.length * 2));
  bounce.set(bin, dst);
  target.set(bounce.subarray(dst, dst + bin.length), at);
}

/**
 * Where (mod 8) the last walk's encoding should start in shared memory for its first deferred
 * byte string to be aligned as its source is, so that it is copied the fast way (see copyBin);
 * 0 when it has none.
 */
export function stagedAlign(): number {
  if (deferredCount === 0) return 0;
  return ((deferredBin[0] as Uint8Array).byteOffset - (deferredAt[0] as number)) & 7;
}

/** Drop the references to the caller's byte strings (they must not be kept alive). */
function forgetDeferred(): void {
  for (let i = 0; i < deferredCount; i++) deferredBin[i] = undefined;
  deferredCount = 0;
  deferredBytes = 0;
}

/** A refused value: the message is made only once the path is known (never on success). */
class Refusal {
  constructor(
    readonly depth: number,
    readonly describe: (path: string) => string,
  ) {}
}

function pathOf(root: string, depth: number): string {
  let path = root;
  for (let d = 1; d <= depth; d++) {
    const key = pathKeys[d] as string | number;
    path += typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  }
  return path;
}

/** A value as error messages show it: a class instance by its class, never `[object Object]`. */
const describe = quote;

/** Field that channels_redis uses to route messages; reserved in every backend. */
export const RESERVED_FIELD = '__asgi_channel__';

/** A whole message: a plain object without the routing field. */
function writeMessage(message: unknown): void {
  if (message === null || typeof message !== 'object' || ArrayBuffer.isView(message) || Array.isArray(message)) {
    throw new TypeError(`invalid message ${describe(message)}: a message must be a plain object`);
  }
  const proto = Object.getPrototypeOf(message);
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(`invalid message ${describe(message)}: a message must be a plain object`);
  }
  writePlainObject(message, 0, true);
}

function write(value: unknown, depth: number): void {
  switch (typeof value) {
    case 'string':
      return writeString(value, depth);
    case 'number':
      return writeNumber(value);
    case 'boolean':
      ensure(1);
      buf[pos++] = value ? 0xc3 : 0xc2;
      return;
    case 'bigint':
      return writeBigInt(value, depth);
    case 'object':
      if (value === null) {
        ensure(1);
        buf[pos++] = 0xc0;
        return;
      }
      return writeObject(value, depth);
    case 'undefined':
      throw new Refusal(depth, (at) => `invalid value undefined at ${at}: undefined is not allowed in a message (use null)`);
    default:
      throw new Refusal(depth, (at) => `invalid value ${describe(value)} at ${at}: ${typeof value}s are not allowed in a message`);
  }
}

function writeObject(value: object, depth: number): void {
  if (ArrayBuffer.isView(value)) {
    if (value instanceof Uint8Array) return writeBin(value);
  } else if (depth >= MAX_DEPTH) {
    for (let d = 0; d < depth; d++) {
      if (containers[d] === value) throw new Refusal(depth, (at) => `invalid value at ${at}: circular reference`);
    }
    throw new Refusal(
      depth,
      (at) => `invalid value at ${at}: nested deeper than ${MAX_DEPTH} levels (the maximum depth of a message)`,
    );
  } else if (Array.isArray(value)) {
    containers[depth] = value;
    if (depth > deepest) deepest = depth;
    const length = value.length;
    writeArrayHeader(length);
    for (let i = 0; i < length; i++) {
      pathKeys[depth + 1] = i;
      write(value[i], depth + 1);
    }
    return;
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) return writePlainObject(value, depth, false);
  }
  throw new Refusal(
    depth,
    (at) => `invalid value ${describe(value)} at ${at}: only plain objects, arrays and Uint8Array may be nested in a message`,
  );
}

function writePlainObject(value: object, depth: number, top: boolean): void {
  containers[depth] = value;
  if (depth > deepest) deepest = depth;
  const keys = Object.keys(value);
  const count = keys.length;
  if (shapes !== null && count > 0 && count <= RECORD_MAX_KEYS) {
    const id = shapes.idOf(keys, top);
    if (id >= 0) return writeRecord(value, keys, id, depth);
  }
  writeMapHeader(count);
  for (let i = 0; i < count; i++) {
    const key = keys[i] as string;
    if (top && key === RESERVED_FIELD) {
      throw new TypeError(`invalid message: the field message.${RESERVED_FIELD} is reserved for routing`);
    }
    pathKeys[depth + 1] = key;
    writeKey(key, depth + 1);
    write((value as Record<string, unknown>)[key], depth + 1);
  }
  if (shapes !== null && count > 0 && count <= RECORD_MAX_KEYS) shapes.missed(keys);
}

/**
 * `value` as a record of structure `id`: ext8/16/32 of type RECORD_EXT holding the u16 id
 * and the values in key order. The keys need no check: a structure only ever holds key
 * lists that were written (and so checked) as a plain map, and the routing field at the top
 * is excluded by `idOf`. The ext length is patched in once the values are written.
 */
function writeRecord(value: object, keys: string[], id: number, depth: number): void {
  ensure(5);
  const start = pos;
  buf[start] = 0xc7;
  buf[start + 2] = RECORD_EXT;
  buf[start + 3] = id >>> 8;
  buf[start + 4] = id & 0xff;
  pos += 5;
  // Deferred byte strings inside the record count in its length, and move with its payload.
  const deferredFrom = deferredCount;
  const deferredBefore = deferredBytes;
  const count = keys.length;
  for (let i = 0; i < count; i++) {
    const key = keys[i] as string;
    pathKeys[depth + 1] = key;
    write((value as Record<string, unknown>)[key], depth + 1);
  }
  const length = pos - (start + 3) + (deferredBytes - deferredBefore);
  if (length < 0x100) {
    buf[start + 1] = length;
    return;
  }
  // A longer payload needs a wider header: move the payload up by 1 (ext16) or 3 (ext32) bytes.
  const shift = length < 0x10000 ? 1 : 3;
  ensure(shift);
  buf.copyWithin(start + 3 + shift, start + 3, pos);
  pos += shift;
  for (let i = deferredFrom; i < deferredCount; i++) deferredAt[i] = (deferredAt[i] as number) + shift;
  if (shift === 1) {
    buf[start] = 0xc8;
    buf[start + 1] = length >>> 8;
    buf[start + 2] = length & 0xff;
    buf[start + 3] = RECORD_EXT;
  } else {
    buf[start] = 0xc9;
    view.setUint32(start + 1, length);
    buf[start + 5] = RECORD_EXT;
  }
}

function writeKey(key: string, depth: number): void {
  // A key is a string like any other; a refused key names the path up to and including it.
  writeString(key, depth);
}

function writeArrayHeader(length: number): void {
  ensure(5);
  if (length < 16) buf[pos++] = 0x90 | length;
  else if (length < 0x10000) {
    buf[pos] = 0xdc;
    buf[pos + 1] = length >>> 8;
    buf[pos + 2] = length & 0xff;
    pos += 3;
  } else {
    buf[pos] = 0xdd;
    view.setUint32(pos + 1, length);
    pos += 5;
  }
}

function writeMapHeader(count: number): void {
  ensure(5);
  if (count < 16) buf[pos++] = 0x80 | count;
  else if (count < 0x10000) {
    buf[pos] = 0xde;
    buf[pos + 1] = count >>> 8;
    buf[pos + 2] = count & 0xff;
    pos += 3;
  } else {
    buf[pos] = 0xdf;
    view.setUint32(pos + 1, count);
    pos += 5;
  }
}

function writeNumber(n: number): void {
  ensure(9);
  if (Number.isInteger(n) && !(n === 0 && 1 / n < 0)) {
    if (n >= 0) {
      if (n < 0x80) {
        buf[pos++] = n;
      } else if (n < 0x100) {
        buf[pos] = 0xcc;
        buf[pos + 1] = n;
        pos += 2;
      } else if (n < 0x10000) {
        buf[pos] = 0xcd;
        buf[pos + 1] = n >>> 8;
        buf[pos + 2] = n & 0xff;
        pos += 3;
      } else if (n <= 0xffffffff) {
        buf[pos] = 0xce;
        view.setUint32(pos + 1, n);
        pos += 5;
      } else if (n <= Number.MAX_SAFE_INTEGER) {
        buf[pos] = 0xcf;
        view.setUint32(pos + 1, Math.floor(n / 0x100000000));
        view.setUint32(pos + 5, n >>> 0);
        pos += 9;
      } else writeFloat(n);
    } else if (n >= -0x20) {
      buf[pos++] = n & 0xff;
    } else if (n >= -0x80) {
      buf[pos] = 0xd0;
      buf[pos + 1] = n & 0xff;
      pos += 2;
    } else if (n >= -0x8000) {
      buf[pos] = 0xd1;
      view.setInt16(pos + 1, n);
      pos += 3;
    } else if (n >= -0x80000000) {
      buf[pos] = 0xd2;
      view.setInt32(pos + 1, n);
      pos += 5;
    } else if (n >= -Number.MAX_SAFE_INTEGER) {
      buf[pos] = 0xd3;
      // Two's complement of a safe negative integer: high word floor(n / 2^32), low word n mod 2^32.
      view.setInt32(pos + 1, Math.floor(n / 0x100000000));
      view.setUint32(pos + 5, n >>> 0);
      pos += 9;
    } else writeFloat(n);
  } else writeFloat(n);
}

function writeFloat(n: number): void {
  buf[pos] = 0xcb;
  view.setFloat64(pos + 1, n);
  pos += 9;
}

function writeBigInt(n: bigint, depth: number): void {
  if (n < INT64_MIN || n > UINT64_MAX) {
    throw new Refusal(depth, (at) => `invalid value ${n}n at ${at}: integers must fit in 64 bits`);
  }
  ensure(9);
  if (n > INT64_MAX) {
    buf[pos] = 0xcf;
    view.setBigUint64(pos + 1, n);
  } else {
    buf[pos] = 0xd3;
    view.setBigInt64(pos + 1, n);
  }
  pos += 9;
}

function writeBin(bytes: Uint8Array): void {
  const length = bytes.length;
  ensure(length >= DEFER_MIN ? 5 : length + 5);
  if (length < 0x100) {
    buf[pos] = 0xc4;
    buf[pos + 1] = length;
    pos += 2;
  } else if (length < 0x10000) {
    buf[pos] = 0xc5;
    buf[pos + 1] = length >>> 8;
    buf[pos + 2] = length & 0xff;
    pos += 3;
  } else {
    buf[pos] = 0xc6;
    view.setUint32(pos + 1, length);
    pos += 5;
  }
  if (length >= DEFER_MIN) {
    deferredAt[deferredCount] = pos;
    deferredBin[deferredCount++] = bytes;
    deferredBytes += length;
    return;
  }
  buf.set(bytes, pos);
  pos += length;
}

function loneSurrogate(s: string, index: number, depth: number): Refusal {
  const unit = s.charCodeAt(index).toString(16).toUpperCase();
  return new Refusal(
    depth,
    (at) =>
      `invalid string ${describe(s)} at ${at}: it holds a lone UTF-16 surrogate (U+${unit} at index ${index}); ` +
      `strings must be well-formed Unicode (a surrogate half cannot be written as UTF-8, and Python peers cannot read it)`,
  );
}

/** `String.prototype.isWellFormed` (Node >= 20; the ES2024 typings are not in this project's lib). */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

function writeString(s: string, depth: number): void {
  const length = s.length;
  if (length < SHORT_STRING) {
    // At most 3 bytes per UTF-16 unit: up to 189 bytes, so a fixstr or str8 header.
    ensure(length * 3 + 2);
    const start = length <= 10 ? pos + 1 : pos + 2;
    let at = start;
    for (let i = 0; i < length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) buf[at++] = c;
      else if (c < 0x800) {
        buf[at++] = 0xc0 | (c >> 6);
        buf[at++] = 0x80 | (c & 0x3f);
      } else if (c < 0xd800 || c > 0xdfff) {
        buf[at++] = 0xe0 | (c >> 12);
        buf[at++] = 0x80 | ((c >> 6) & 0x3f);
        buf[at++] = 0x80 | (c & 0x3f);
      } else {
        const next = i + 1 < length ? s.charCodeAt(i + 1) : 0;
        if (c > 0xdbff || next < 0xdc00 || next > 0xdfff) throw loneSurrogate(s, i, depth);
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        buf[at++] = 0xf0 | (cp >> 18);
        buf[at++] = 0x80 | ((cp >> 12) & 0x3f);
        buf[at++] = 0x80 | ((cp >> 6) & 0x3f);
        buf[at++] = 0x80 | (cp & 0x3f);
        i++;
      }
    }
    const bytes = at - start;
    if (start === pos + 1) {
      buf[pos] = 0xa0 | bytes;
      pos = at;
    } else if (bytes < 32) {
      buf.copyWithin(pos + 1, start, at);
      buf[pos] = 0xa0 | bytes;
      pos = at - 1;
    } else {
      buf[pos] = 0xd9;
      buf[pos + 1] = bytes;
      pos = at;
    }
    return;
  }
  if (!isWellFormed(s)) {
    let i = 0;
    for (; i < length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0xd800 || c > 0xdfff) continue;
      const next = i + 1 < length ? s.charCodeAt(i + 1) : 0;
      if (c > 0xdbff || next < 0xdc00 || next > 0xdfff) break;
      i++;
    }
    throw loneSurrogate(s, i, depth);
  }
  const most = length * 3;
  const header = most < 0x100 ? 2 : most < 0x10000 ? 3 : 5;
  ensure(most + header);
  const bytes = nodeBuf.write(s, pos + header, 'utf8');
  const needed = bytes < 32 ? 1 : bytes < 0x100 ? 2 : bytes < 0x10000 ? 3 : 5;
  if (needed < header) buf.copyWithin(pos + needed, pos + header, pos + header + bytes);
  if (needed === 1) buf[pos] = 0xa0 | bytes;
  else if (needed === 2) {
    buf[pos] = 0xd9;
    buf[pos + 1] = bytes;
  } else if (needed === 3) {
    buf[pos] = 0xda;
    buf[pos + 1] = bytes >>> 8;
    buf[pos + 2] = bytes & 0xff;
  } else {
    buf[pos] = 0xdb;
    view.setUint32(pos + 1, bytes);
  }
  pos += needed + bytes;
}
