/**
 * The message contract and the msgpack codec shared by every layer: one implementation, so
 * that a message means the same on every backend and on the wire to Python's channels_redis.
 *
 * A message is checked and encoded in ONE walk (`./codec/encode.ts`): what is sent is
 * exactly what was checked, every property is read once (a getter runs once, a Proxy's
 * traps once per key), and a value is either carried exactly or refused at `send` with a
 * `TypeError` naming its path and the rule:
 *
 * - allowed: strings (well-formed Unicode), numbers (all of them: `-0`, NaN and ±Infinity
 *   travel as float64, bit for bit), bigints within 64 bits, booleans, null, `Uint8Array`
 *   (Buffer included), arrays, plain objects (prototype `Object.prototype` or `null`) with
 *   any string keys, `__proto__` included (it arrives as an own property);
 * - refused: strings holding a lone UTF-16 surrogate (no UTF-8 can carry it, and a Python
 *   peer would crash on the bytes), undefined, functions, symbols, class instances, other
 *   typed arrays, bigints beyond 64 bits, nesting deeper than {@link MAX_MESSAGE_DEPTH}
 *   levels, circular references, and a top-level `__asgi_channel__` field (routing);
 * - ignored: symbol-keyed and non-enumerable properties (as `structuredClone` and `JSON` do).
 *
 * On the wire: integral numbers are msgpack ints of the smallest width (a safe integer
 * beyond 32 bits is an int64, so Python reads an `int`), other numbers float64; 64-bit
 * integers read back as a `number` when safe and as a `bigint` beyond 2^53 (so a `bigint`
 * of safe size arrives as a `number` of the same value). Decoding (`./codec/decode.ts`)
 * delivers any plain msgpack unchanged or refuses it: Python `bytes` map keys become
 * strings (their UTF-8), integer keys their decimal string.
 *
 * @module
 */

import { DecodeError, decodeValue, type StructureSource } from './codec/decode.js';
import {
  MAX_DEPTH, RESERVED_FIELD, flatten, stagedAlign, stagedLength, walkMessage, writeStaged, type ShapeSource,
} from './codec/encode.js';
import type { Message } from './layer.js';

export { DecodeError };

/**
 * Deepest nesting of objects and arrays in a message (100): the message itself is level 1,
 * so `{ a: [ {} ] }` is 3 levels deep. `send` refuses a deeper message with a `TypeError`
 * naming the path where it goes too deep; received bytes nested deeper are not delivered.
 */
export const MAX_MESSAGE_DEPTH: number = MAX_DEPTH;

export { RESERVED_FIELD };

/*
 * `assertMessage` (called by every backend's `send`/`groupSend` checks) IS the encoding: it
 * keeps the bytes it produced, and the `encode` of the same message that follows within
 * the same synchronous call hands them out instead of walking the message again. The slot
 * holds one message; any other encode overwrites the scratch buffer and so empties it first.
 * (A batch call should therefore `encode` each message, which checks it, rather than
 * `assertMessage` them all and then encode them all: that would walk each one twice.)
 */
let checked: object | null = null;
/** The walk of `checked` (see `walkMessage`): its large byte strings may not be in place yet. */
let checkedWalk = 0;
/** The structures `checked` was walked with (null: plain msgpack). */
let checkedShapes: ShapeSource | null = null;

/** The walk of `message`: the checked one if it is that message (same structures), else a fresh walk. */
function walkOf(message: unknown, shapes: ShapeSource | null = null): number {
  if (checked !== null && message === checked && checkedShapes === shapes) {
    checked = null;
    return checkedWalk;
  }
  checked = null;
  return walkMessage(message, shapes);
}

/**
 * Throw a `TypeError` unless `message` is a message that can be carried exactly (see the
 * rules of this module). The error names the path of the first bad value, e.g.
 * `message.a[2].b`.
 */
export function assertMessage(message: unknown): asserts message is Message {
  checked = null;
  checkedWalk = walkMessage(message);
  checked = message as object;
  checkedShapes = null;
}

/**
 * As {@link assertMessage}, for the shared layer's records encoding: the check IS the
 * records encode, kept for the {@link encodeRecords} of the same message that follows.
 */
export function assertRecords(message: unknown, shapes: ShapeSource): asserts message is Message {
  checked = null;
  checkedWalk = walkMessage(message, shapes);
  checked = message as object;
  checkedShapes = shapes;
}

/**
 * Check and encode a message for the shared memory of one bus: as {@link encode}, but objects
 * whose key list is in the bus's structure table (src/codec/records.ts) are written as
 * records (an ext type plain decoders refuse). Never for Redis or Python: only
 * {@link decodeRecords} with the same bus's structures reads it. Same scratch buffer as `encode`.
 */
export function encodeRecords(message: Message, shapes: ShapeSource): Uint8Array {
  walkOf(message, shapes);
  return flatten();
}

/** As {@link decode}, also reading records of `structures` (plain msgpack as always). */
export function decodeRecords(bytes: Uint8Array, structures: StructureSource): Message {
  return asMessage(decodeValue(bytes, false, structures));
}

/**
 * As {@link decodeOwned}, also reading records of `structures`. Byte strings are views of
 * `bytes`: for a private buffer of the message alone, or for a block of shared memory that the
 * caller keeps unchanged while the views may be read (the shared layer's `receiveBorrowed`).
 */
export function decodeRecordsOwned(bytes: Uint8Array, structures: StructureSource): Message {
  return asMessage(decodeValue(bytes, true, structures));
}

/**
 * Check and encode a message as plain msgpack, in one walk: throws the `TypeError` that
 * `send` rejects with (naming the path and the rule) for a message it cannot carry exactly.
 * The result is a view into a scratch buffer reused by the next `encode` call: copy it or
 * use it before then.
 */
export function encode(message: Message): Uint8Array {
  walkOf(message);
  return flatten();
}

/**
 * Check and encode a message as `encode` does, but leave it staged: returns its encoded
 * length and a `write(target, at)` that copies the encoding to `target` at `at`, each large
 * byte string straight from the message (one copy instead of two, for the shared layer's
 * arena). `write` must be called before any other `encode`, `encodeStaged` or
 * `assertMessage` (it throws otherwise). `shapes`: as {@link encodeRecords} (shared memory only).
 */
export function encodeStaged(message: Message, shapes: ShapeSource | null = null): StagedEncoding {
  staged.walk = walkOf(message, shapes);
  staged.length = stagedLength();
  staged.align = stagedAlign();
  return staged;
}

/** See {@link encodeStaged} (one object, reused by every call). */
export interface StagedEncoding {
  /** Encoded bytes. */
  length: number;
  /**
   * Where (mod 8) in shared memory the encoding should start so that its first large byte
   * string lands aligned as its source (V8 copies misaligned ones into shared memory slowly).
   */
  align: number;
  /** Copy the encoding to `target` at `at`. */
  write(target: Uint8Array, at: number): void;
  /** The encoding, contiguous: a view of the scratch buffer, as `encode` returns (same rule). */
  bytes(): Uint8Array;
}

const staged = {
  walk: 0,
  length: 0,
  align: 0,
  write(target: Uint8Array, at: number): void {
    writeStaged(staged.walk, target, at);
  },
  bytes(): Uint8Array {
    writeStaged(staged.walk, EMPTY_TARGET, -1, true);
    return flatten();
  },
};
const EMPTY_TARGET = new Uint8Array(0);

/**
 * The msgpack map `{ __asgi_channel__: route }` (the Redis routing field) in a buffer of its
 * own: it is spliced onto an encoded message, which may still sit in the scratch buffer.
 */
export function encodeRouting(route: string | string[]): Uint8Array {
  const parts: Buffer[] = [Buffer.from([0x81]), str(RESERVED_FIELD)];
  if (typeof route === 'string') parts.push(str(route));
  else {
    if (route.length >= 0x10000) throw new RangeError(`a route of ${route.length} channels`);
    parts.push(route.length < 16 ? Buffer.from([0x90 | route.length]) : Buffer.from([0xdc, route.length >>> 8, route.length & 0xff]));
    for (const channel of route) parts.push(str(channel));
  }
  return Buffer.concat(parts);
}

/** A msgpack str of a channel name (routing only: names are ASCII and short, but any length is handled). */
function str(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const n = bytes.length;
  const header =
    n < 32 ? [0xa0 | n] : n < 0x100 ? [0xd9, n] : n < 0x10000 ? [0xda, n >>> 8, n & 0xff] : [0xdb, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from(header), bytes]);
}

/**
 * Decode bytes written by `encode` (or by any plain msgpack writer) into a message. Byte
 * strings in the result are fresh `Uint8Array` copies, never views of `bytes`; `bin` map
 * keys become the string of their UTF-8, integer keys their decimal string. Throws an
 * `Error` naming the offset and the reason for bytes that are not a msgpack map or that
 * cannot be delivered unchanged (invalid UTF-8, duplicate keys, extension types, nesting
 * beyond `MAX_MESSAGE_DEPTH`, truncated or trailing bytes).
 */
export function decode(bytes: Uint8Array): Message {
  return asMessage(decodeValue(bytes));
}

/**
 * As {@link decode}, for `bytes` that the caller hands over: a buffer holding this one
 * message only (its `ArrayBuffer` holds nothing else), never modified or reused afterwards.
 * Byte strings in the result are views of it instead of copies (one copy less for large
 * payloads; their `.buffer` shows this message's own encoded bytes, nothing else).
 */
export function decodeOwned(bytes: Uint8Array): Message {
  return asMessage(decodeValue(bytes, true));
}

function asMessage(value: unknown): Message {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new DecodeError('undecodable message: the bytes are a msgpack value, but not a map (a message is a map)');
  }
  return value as Message;
}
