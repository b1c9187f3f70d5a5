/**
 * The model of the fuzz suite: generators (fast-check arbitraries) of channel names, group
 * names and messages (objects of data properties, of getters, or behind a Proxy),
 * including everything the contract refuses, and the oracle: what a
 * message must arrive as, or the reason it must be refused at send. The oracle is written
 * from the contract (README "Messages"), not from the codec's code.
 */
import fc from 'fast-check';
import type { Message } from '../../dist/index.js';

export const MAX_DEPTH = 100;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.';
const nameChar = fc.constantFrom(...NAME_CHARS.split(''));

/** A valid group name (and plain channel name): 1 to 99 of the ASGI alphabet. */
export const groupName: fc.Arbitrary<string> = fc.string({ unit: nameChar, minLength: 1, maxLength: 99 });

/** A valid plain channel name. */
export const channelName: fc.Arbitrary<string> = groupName;

/** Any string, often close to a valid name (for the name checks). */
export const anyName: fc.Arbitrary<string> = fc.oneof(
  groupName,
  fc.string({ unit: fc.oneof(nameChar, fc.constantFrom('!', ' ', 'é', '/', '\u0000', '👍')), maxLength: 110 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

/** True when `name` is a valid channel name (the rule of the README, restated). */
export function validChannelName(name: string): boolean {
  return name.length >= 1 && name.length <= 99 && /^[a-zA-Z0-9\-_.]+(![a-zA-Z0-9\-_.]*)?$/.test(name);
}

/** Strings: mostly well-formed (any plane), sometimes holding lone surrogates. */
const text: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.oneof(fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), fc.constantFrom('\ud800', '\udfff', '👍')), { maxLength: 80 })
      .map((parts) => parts.join('')),
  },
);

/** Keys: any string, and the ones that tempt an implementation to touch a prototype. */
const key: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', '__proto_', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__asgi_channel__', '0', '42', '') },
  { weight: 1, arbitrary: text },
);

class Custom {
  x = 1;
}

/** Values the contract refuses (each alone makes a message refused). */
const refused: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  undefined,
  () => 1,
  Symbol('s'),
  new Date(0),
  new Map(),
  new Set(),
  /re/,
  new Float64Array(1),
  new DataView(new ArrayBuffer(1)),
  new Custom(),
  2n ** 64n,
  -(2n ** 63n) - 1n,
);

const scalar: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: text },
  { weight: 2, arbitrary: fc.double() }, // -0, NaN and ±Infinity included
  { weight: 2, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.maxSafeInteger() },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 2 ** 32, -(2 ** 31) - 1, 2 ** 53 - 1, 2 ** 53, -(2 ** 53)) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)) },
);

/** An object built with defineProperty, so that `__proto__` is an own key like any other. */
function objectOf(entries: Array<[string, unknown]>, nullProto: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = nullProto ? Object.create(null) : {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

/** How a generated object holds its values: data properties, getters (of a fixed value), or behind a Proxy. */
type Holder = 'data' | 'getters' | 'proxy';

function holderOf(entries: Array<[string, unknown]>, nullProto: boolean, holder: Holder): Record<string, unknown> {
  if (holder === 'data') return objectOf(entries, nullProto);
  if (holder === 'proxy') return new Proxy(objectOf(entries, nullProto), {});
  const o: Record<string, unknown> = nullProto ? Object.create(null) : {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { get: () => v, enumerable: true, configurable: true });
  return o;
}

const { value } = fc.letrec<{ value: unknown; object: Record<string, unknown> }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 6, arbitrary: scalar },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 5 }) },
    { weight: 1, arbitrary: tie('object') },
  ),
  object: fc
    .tuple(
      fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }),
      fc.boolean(),
      fc.constantFrom<Holder>('data', 'data', 'data', 'getters', 'proxy'),
    )
    .map(([entries, nullProto, holder]) => holderOf(entries, nullProto && entries.length % 3 === 0, holder)),
}));

/** A chain `levels` deep ending in `leaf` (objects or arrays). */
function chain(levels: number, leaf: unknown, arrays: boolean): unknown {
  let v = leaf;
  for (let i = 1; i < levels; i++) v = arrays ? [v] : { d: v };
  return v;
}

/** A value, sometimes with a refused one somewhere, sometimes nested near the depth limit. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: value },
  { weight: 1, arbitrary: fc.tuple(value, refused).map(([v, bad]) => [v, bad]) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: MAX_DEPTH - 3, max: MAX_DEPTH + 2 }), fc.boolean(), scalar)
      .map(([levels, arrays, leaf]) => chain(levels, leaf, arrays)),
  },
);

/** A message: a plain object of any values (and now and then not a plain object at all). */
export const message: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .tuple(fc.array(fc.tuple(key, anyValue), { maxLength: 6 }), fc.constantFrom<Holder>('data', 'data', 'data', 'getters', 'proxy'))
      .map(([e, holder]) => holderOf(e, false, holder)),
  },
  { weight: 1, arbitrary: fc.oneof(scalar, refused, fc.array(scalar, { maxLength: 2 })) },
);

/** The message as it must arrive, or why it must be refused. */
export type Expected = { ok: true; value: Message } | { ok: false; reason: string };

/** The oracle: what the contract says `m` arrives as. */
export function expected(m: unknown): Expected {
  if (m === null || typeof m !== 'object' || Array.isArray(m) || ArrayBuffer.isView(m)) return { ok: false, reason: 'not a plain object' };
  const proto = Object.getPrototypeOf(m);
  if (proto !== Object.prototype && proto !== null) return { ok: false, reason: 'not a plain object' };
  if (Object.keys(m).includes('__asgi_channel__')) return { ok: false, reason: 'reserved field' };
  try {
    return { ok: true, value: arrival(m, 1) as Message };
  } catch (reason) {
    return { ok: false, reason: String(reason) };
  }
}

function wellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const n = s.charCodeAt(i + 1);
      if (!(n >= 0xdc00 && n <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}

function arrival(v: unknown, level: number): unknown {
  switch (typeof v) {
    case 'string':
      if (!wellFormed(v)) throw 'lone surrogate';
      return v;
    case 'number':
    case 'boolean':
      return v;
    case 'bigint':
      if (v < INT64_MIN || v > UINT64_MAX) throw 'bigint beyond 64 bits';
      // Documented: a bigint of safe size arrives as a number of the same value.
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    case 'object':
      break;
    default:
      throw `a ${typeof v}`;
  }
  if (v === null) return null;
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) throw 'typed array';
  if (level > MAX_DEPTH) throw 'too deep';
  if (Array.isArray(v)) return v.map((x) => arrival(x, level + 1));
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) throw 'class instance';
  for (const k of Object.keys(v)) if (!wellFormed(k)) throw 'lone surrogate in a key';
  return objectOf(Object.keys(v).map((k) => [k, arrival((v as Record<string, unknown>)[k], level + 1)]), false);
}

/** Null when `got` is exactly `want` (types, -0, NaN, bytes, own keys in order, plain prototypes), else where it differs. */
export function difference(got: unknown, want: unknown, path = 'message'): string | null {
  if (typeof got !== typeof want) return `${path}: ${typeof got} instead of ${typeof want}`;
  if (typeof want !== 'object' || want === null || got === null) {
    const show = (v: unknown) => (Object.is(v, -0) ? '-0' : typeof v === 'bigint' ? `${v}n` : String(v));
    return Object.is(got, want) ? null : `${path}: ${show(got)} instead of ${show(want)}`;
  }
  if (want instanceof Uint8Array) {
    if (!(got instanceof Uint8Array) || got.constructor !== Uint8Array) return `${path}: not a plain Uint8Array`;
    return Buffer.compare(got, want) === 0 ? null : `${path}: other bytes`;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) return `${path}: not an array of ${want.length}`;
    for (let i = 0; i < want.length; i++) {
      const d = difference(got[i], want[i], `${path}[${i}]`);
      if (d !== null) return d;
    }
    return null;
  }
  if (Object.getPrototypeOf(got) !== Object.prototype) return `${path}: prototype is not Object.prototype`;
  const gk = Object.keys(got as object);
  const wk = Object.keys(want);
  if (JSON.stringify(gk) !== JSON.stringify(wk)) return `${path}: keys ${JSON.stringify(gk)} instead of ${JSON.stringify(wk)}`;
  for (const k of wk) {
    const g = Object.getOwnPropertyDescriptor(got, k)?.value;
    const d = difference(g, (want as Record<string, unknown>)[k], `${path}[${JSON.stringify(k)}]`);
    if (d !== null) return d;
  }
  return null;
}

/** What `Object.prototype` holds: compared before and after, it must never change. */
export function prototypeSnapshot(): string {
  return JSON.stringify(Reflect.ownKeys(Object.prototype).map(String).sort()) + String(Object.getPrototypeOf(Object.prototype));
}
