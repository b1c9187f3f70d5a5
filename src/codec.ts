/**
 * The msgpack codec shared by every layer. One configuration, so that a message means the
 * same on every backend and on the wire to Python's channels_redis:
 *
 * - plain msgpack only (no msgpackr records or extensions), so other msgpack readers
 *   (Python's `msgpack`, used by channels_redis) read what we write;
 * - maps decode to plain objects, `bin` decodes to a fresh `Uint8Array` (copied, never a
 *   view into the encoded buffer, so receivers never alias each other or shared memory);
 * - integers are integers on the wire, whatever their size: a safe integer beyond 32 bits
 *   (`Date.now()`, a database id) is written as int64, not as the float64 msgpackr would
 *   choose, so Python reads an `int`; a `bigint` is written as int64/uint64;
 * - 64-bit integers are read back as a `number` when they are safe integers and as a
 *   `bigint` beyond 2^53, so no value is ever rounded: `2n ** 60n` and Python's big ints
 *   arrive exact, and a timestamp arrives as a number. (A `bigint` of safe size therefore
 *   arrives as a `number` of the same value.)
 *
 * @module
 */

import { Packr } from 'msgpackr';
import type { Message } from './layer.js';

const packr = new Packr({
  useRecords: false,
  moreTypes: false,
  structuredClone: false,
  mapsAsObjects: true,
  copyBuffers: true,
  int64AsType: 'auto' as 'bigint', // msgpackr supports 'auto'; its typings lag behind
  useFloat32: 0,
  encodeUndefinedAsNil: false,
  variableMapSize: true,
});

/**
 * Encode a (validated) message. The result is a Node `Buffer` that may be a view into a
 * reused scratch buffer: copy it or use it before the next `encode` call.
 */
export function encode(message: Message): Uint8Array {
  return packr.pack(hasWideInteger(message) ? widenIntegers(message) : message);
}

/** An integral number msgpackr would write as float64: beyond 32 bits but exact (safe). */
function isWideInteger(n: number): boolean {
  return (n > 0xffffffff || n < -0x80000000) && Number.isSafeInteger(n);
}

/** True when `value` holds a wide integer anywhere (cheap: no allocation). */
function hasWideInteger(value: unknown): boolean {
  if (typeof value === 'number') return isWideInteger(value);
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasWideInteger(value[i])) return true;
    return false;
  }
  for (const key in value) if (hasWideInteger((value as Record<string, unknown>)[key])) return true;
  return false;
}

/** A copy of `value` with wide integers as bigints (which msgpackr writes as int64). */
function widenIntegers(value: unknown): unknown {
  if (typeof value === 'number') return isWideInteger(value) ? BigInt(value) : value;
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(widenIntegers);
  const out: Record<string, unknown> = {};
  for (const key in value) out[key] = widenIntegers((value as Record<string, unknown>)[key]);
  return out;
}

/**
 * Decode bytes written by {@link encode} (or by any msgpack writer). Byte strings in the
 * result are fresh `Uint8Array` copies, never views of `bytes`.
 */
export function decode(bytes: Uint8Array): Message {
  // msgpackr copies `bin` with the input's own species: a Buffer input would hand out
  // Buffers, a plain Uint8Array input hands out plain Uint8Arrays (what the contract
  // promises), with no second walk over the result.
  const plain = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return packr.unpack(plain) as Message;
}
