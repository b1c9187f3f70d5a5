/**
 * The bytes of one queued message, as channels_redis 4.x writes and reads them:
 *
 * ```
 * member = 12 random bytes | body          (body = msgpack map, or a Fernet token of it)
 * ```
 *
 * The random bytes make every member of a channel's sorted set unique (two identical
 * messages would otherwise collapse into one). Routing goes inside the map, in the field
 * `__asgi_channel__`: the full channel name (a string) for a direct send to a `!` channel,
 * the list of member channels that share one key for a group send. Receivers strip both.
 *
 * The routing field is spliced onto an already encoded map (header count + 1, field
 * appended) so that a group send encodes the message once, not once per member key.
 *
 * @module
 */

import { randomFillSync } from 'node:crypto';
import { decode, encode, encodeRouting } from '../codec.js';
import { RESERVED_FIELD, type Message, type MessageValue } from '../layer.js';
import type { MultiFernet } from './fernet.js';

/** Length of the random prefix of every member. */
export const PREFIX_BYTES = 12;

/** Random bytes drawn in batches: one `randomFill` per 256 messages instead of one each. */
const POOL_SIZE = PREFIX_BYTES * 256;
let pool = Buffer.alloc(0);
let poolOffset = POOL_SIZE;

/** Write 12 fresh random bytes at the start of `target`; returns `target`. */
export function randomPrefix(target: Buffer = Buffer.allocUnsafe(PREFIX_BYTES)): Buffer {
  if (poolOffset >= POOL_SIZE) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_SIZE));
    poolOffset = 0;
  }
  pool.copy(target, 0, poolOffset, poolOffset + PREFIX_BYTES);
  poolOffset += PREFIX_BYTES;
  return target;
}

/** Encode a validated message into a standalone buffer (the codec reuses its own). */
export function encodeBody(message: Message): Buffer {
  return Buffer.from(encode(message));
}

/** [count, header length] of the msgpack map at the start of `body`. */
export function mapHeader(body: Uint8Array): [number, number] {
  const b0 = body[0] as number;
  if (b0 >= 0x80 && b0 <= 0x8f) return [b0 & 0x0f, 1];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (b0 === 0xde) return [view.getUint16(1), 3];
  if (b0 === 0xdf) return [view.getUint32(1), 5];
  throw new Error(`not a msgpack map (first byte 0x${b0.toString(16)})`);
}

function writeMapHeader(count: number): Buffer {
  if (count <= 15) return Buffer.from([0x80 | count]);
  if (count <= 0xffff) {
    const h = Buffer.alloc(3);
    h[0] = 0xde;
    h.writeUInt16BE(count, 1);
    return h;
  }
  const h = Buffer.alloc(5);
  h[0] = 0xdf;
  h.writeUInt32BE(count, 1);
  return h;
}

/**
 * `body` (an encoded map) with the routing field appended: the same bytes as encoding the
 * message with `__asgi_channel__: route` as its last key.
 */
export function withRouting(body: Uint8Array, route: string | string[]): Buffer {
  const [count, headerLength] = mapHeader(body);
  const field = encodeRouting(route);
  const [, fieldHeader] = mapHeader(field);
  return Buffer.concat([
    writeMapHeader(count + 1),
    body.subarray(headerLength),
    field.subarray(fieldHeader),
  ]);
}

/** The stored member: random prefix, then the body (encrypted when keys are configured). */
export function makeMember(body: Uint8Array, crypter: MultiFernet | null): Buffer {
  const payload = crypter === null ? body : crypter.encrypt(body);
  const member = Buffer.allocUnsafe(PREFIX_BYTES + payload.length);
  randomPrefix(member);
  member.set(payload, PREFIX_BYTES);
  return member;
}

/** A member read back: the message without routing, and the channels it was routed to. */
export interface Unpacked {
  /** The message, `__asgi_channel__` removed. */
  message: Message;
  /** The routing field as a list (empty when the member had none). */
  channels: string[];
}

/**
 * Strip the prefix, decrypt (refusing tokens older than `ttlSeconds`, as channels_redis
 * does with `expiry + 10`), decode, and take the routing field out. Throws on bytes that
 * are not a message (bad token, bad msgpack, not a map).
 */
export function unpackMember(member: Uint8Array, crypter: MultiFernet | null, ttlSeconds: number): Unpacked {
  if (member.length <= PREFIX_BYTES) throw new Error(`member of ${member.length} bytes is too short`);
  let body: Uint8Array = member.subarray(PREFIX_BYTES);
  if (crypter !== null) body = crypter.decrypt(body, ttlSeconds);
  const value = decode(body) as unknown;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new Error('member body is not a msgpack map');
  }
  const message = value as Record<string, MessageValue>;
  const route = message[RESERVED_FIELD];
  let channels: string[] = [];
  if (route !== undefined) {
    delete message[RESERVED_FIELD];
    if (typeof route === 'string') channels = [route];
    else if (Array.isArray(route)) channels = route.filter((c): c is string => typeof c === 'string');
  }
  return { message, channels };
}

/**
 * A deep copy of a decoded message, for the second and further local receivers of one
 * stored group message. Decoded messages hold only plain objects, arrays, Uint8Array and
 * primitives, so a direct walk does it (several times faster than structuredClone).
 */
export function copyMessage(message: Message): Message {
  return copyValue(message) as Message;
}

function copyValue(value: MessageValue): MessageValue {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return value.slice();
  if (Array.isArray(value)) return value.map(copyValue);
  const copy: Record<string, MessageValue> = {};
  for (const key of Object.keys(value)) {
    const item = copyValue(value[key] as MessageValue);
    // `copy.__proto__ = item` would set the prototype: a `__proto__` key is an own property.
    if (key === '__proto__') Object.defineProperty(copy, key, { value: item, writable: true, enumerable: true, configurable: true });
    else copy[key] = item;
  }
  return copy;
}

/**
 * Sorted-set scores: the sender's wall clock in epoch seconds with sub-millisecond digits,
 * as Python's `time.time()`. `Date.now()` keeps it on the wall clock (a monotonic clock
 * drifts away from it over days, and scores are compared with other machines' clocks);
 * the fraction of `performance.now()` adds the digits below the millisecond. Strictly
 * increasing within this process, so that two messages sent in the same millisecond keep
 * their order (equal scores would order them by their random prefixes).
 */
let lastScore = 0;

/** The current time in epoch seconds, with sub-millisecond digits (for cutoffs). */
export function nowSeconds(): number {
  return (Date.now() + (performance.now() % 1)) / 1000;
}

/** The score of a message sent now. */
export function nextScore(): number {
  let score = nowSeconds();
  if (score <= lastScore) score = lastScore + 1e-6;
  lastScore = score;
  return score;
}
