/**
 * The msgpack codec shared by every layer. One configuration, so that a message means the
 * same on every backend and on the wire to Python's channels_redis:
 *
 * - plain msgpack only (no msgpackr records or extensions), so other msgpack readers
 *   (Python's `msgpack`, used by channels_redis) read what we write;
 * - maps decode to plain objects, `bin` decodes to a fresh `Uint8Array` (copied, never a
 *   view into the encoded buffer, so receivers never alias each other or shared memory);
 * - 64-bit integers: a `bigint` is written as int64/uint64 and an int64/uint64 read back as
 *   a `bigint`, so `2n ** 60n` survives the trip exactly (as do Python's big ints).
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
  int64AsType: 'bigint',
  useFloat32: 0,
  encodeUndefinedAsNil: false,
  variableMapSize: true,
});

/**
 * Encode a (validated) message. The result is a Node `Buffer` that may be a view into a
 * reused scratch buffer: copy it or use it before the next `encode` call.
 */
export function encode(message: Message): Uint8Array {
  return packr.pack(message);
}

/**
 * Decode bytes written by {@link encode} (or by any msgpack writer). Byte strings in the
 * result are fresh copies, never views of `bytes`.
 */
export function decode(bytes: Uint8Array): Message {
  const value = packr.unpack(bytes) as unknown;
  return toPlain(value) as Message;
}

/** msgpackr hands out Node Buffers for `bin`; the contract promises Uint8Array. */
function toPlain(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) {
    return value.constructor === Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = toPlain(value[i]);
    return value;
  }
  const obj = value as Record<string, unknown>;
  for (const key in obj) obj[key] = toPlain(obj[key]);
  return obj;
}
