/**
 * The records codec (src/codec/records.ts) on one thread: every value type round-trips to
 * exactly what the plain codec delivers, refusals are the same TypeErrors, the plain `encode`
 * never writes an extension, records are refused by the plain decoder, the table fills up and
 * new shapes then travel as plain maps, and a property test over the fuzz model's messages.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLayer, attachLayer, decode, encode, type Message, type SharedLayer } from '../../dist/index.js';
import { DecodeError, decodeRecords, encodeRecords } from '../../dist/codec.js';
import { Structures, TABLE_ENTRIES, privateStructures } from '../../dist/codec/records.js';
import { expected, message as anyMessage } from '../fuzz/model.js';

const table = (): Structures => privateStructures();

const EXT_RECORD = 0x52;

/** True when `bytes` hold an ext header whose type byte is the record type (a coarse scan). */
function holdsRecord(bytes: Uint8Array): boolean {
  for (let i = 0; i + 2 < bytes.length; i++) {
    if (bytes[i] === 0xc7 && bytes[i + 2] === EXT_RECORD) return true;
    if (bytes[i] === 0xc8 && bytes[i + 3] === EXT_RECORD) return true;
    if (bytes[i] === 0xc9 && bytes[i + 5] === EXT_RECORD) return true;
  }
  return false;
}

/** The plain bytes of what the plain codec delivers for `m`: the reference of every comparison. */
function plainArrival(m: Message): Uint8Array {
  return encode(decode(encode(m).slice())).slice();
}

/** Encode `m` as records twice (the first sight registers its shapes), decode, compare with plain. */
function roundtrip(s: Structures, m: Message): Message {
  encodeRecords(m, s);
  const bytes = encodeRecords(m, s).slice();
  const got = decodeRecords(bytes, s);
  expect(Buffer.from(encode(got))).toEqual(Buffer.from(plainArrival(m)));
  expect(got).toEqual(decode(encode(m).slice()));
  return got;
}

const big = 2n ** 63n + 5n;
const samples: Array<[string, Message]> = [
  ['chat', { type: 'chat.message', text: 'hello', n: 1 }],
  ['numbers', { a: 0, b: -0, c: NaN, d: Infinity, e: -Infinity, f: 1.5, g: 2 ** 40, h: -(2 ** 40), i: 255, j: -33, k: 2 ** 53 + 2 }],
  ['bigints', { a: 5n, b: -(2n ** 63n), c: big, d: 2n ** 60n }],
  ['strings', { a: '', b: 'é', c: '😀', d: 'x'.repeat(40), e: 'y'.repeat(70000), f: '\u0000' }],
  ['bools and null', { t: true, f: false, z: null }],
  ['bytes', { b: new Uint8Array([1, 2, 3]), e: new Uint8Array(0), l: new Uint8Array(70000).fill(7), buf: Buffer.from('abc') }],
  ['arrays', { a: [], b: [1, 'x', [2, [3]], { k: 1 }], c: Array.from({ length: 20 }, (_, i) => ({ i })) }],
  ['nested shapes', { user: { id: 1, name: 'a' }, peer: { id: 2, name: 'b' }, deep: { a: { b: { c: { d: 1 } } } } }],
  ['odd keys', JSON.parse('{"": 1, "0": 2, "10": 3, "a b": 4, "ü": 5, "__proto__": {"x": 1}}') as Message],
  ['routing field nested', { inner: { __asgi_channel__: 'x' } }],
  ['null prototype', Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, o: Object.assign(Object.create(null), { b: 2 }) }) as Message],
  ['empty object', { o: {} }],
  ['many keys (plain map)', Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]))],
  ['record over 64 KiB (ext32)', { type: 'big', blob: new Uint8Array(70000).fill(1), after: 'tail' }],
  ['record over 255 bytes (ext16)', { type: 'mid', text: 'z'.repeat(300), after: 1 }],
];

describe('records codec', () => {
  it.each(samples)('round-trips %s exactly as the plain codec delivers it', (_name, m) => {
    const s = table();
    roundtrip(s, m);
    const own = Object.getOwnPropertyNames(roundtrip(s, m));
    expect(own).toEqual(Object.keys(decode(encode(m).slice())));
  });

  it('writes records for known shapes, and the plain encode never writes an extension', () => {
    const s = table();
    const m = { type: 'chat.message', text: 'hello', n: 1, nested: { a: 1 } };
    expect(holdsRecord(encodeRecords(m, s))).toBe(false); // first sight: plain maps
    const second = encodeRecords(m, s).slice();
    expect(holdsRecord(second)).toBe(true);
    expect(second.length).toBeLessThan(encode(m).length);
    expect(holdsRecord(encode(m))).toBe(false);
    for (const [, sample] of samples) {
      encodeRecords(sample, s);
      expect(holdsRecord(encode(sample).slice())).toBe(false);
    }
  });

  it('keeps __proto__ an own property, never the prototype', () => {
    const s = table();
    const m = JSON.parse('{"__proto__": {"polluted": 1}, "a": 1}') as Message;
    const got = roundtrip(s, m);
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(got, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses what the plain encoder refuses, with the same TypeError, on known shapes too', () => {
    const bad: Array<[Message, unknown]> = [
      [{ type: 'x', text: 'a' }, { type: 'x', text: undefined }],
      [{ a: { b: [1, 2] } }, { a: { b: [1, () => 1] } }],
      [{ a: { b: 1 } }, { a: { b: 2n ** 64n } }],
      [{ a: 'ok' }, { a: 'lone \ud800' }],
      [{ a: { c: 1 } }, { a: { c: new Date(0) } }],
      [{ a: 1 }, { a: new Uint16Array(2) }],
      [{ n: { __asgi_channel__: 'x' } }, { __asgi_channel__: 'y' }],
      [{ k: 1 }, { ['\udc00']: 1 }],
    ];
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    bad.push([{ a: 1, self: { a: 1 } }, cyclic]);
    let deep: Record<string, unknown> = { v: 1 };
    for (let i = 0; i < 120; i++) deep = { v: deep };
    bad.push([{ v: { v: 1 } }, deep]);
    for (const [good, refused] of bad) {
      const s = table();
      encodeRecords(good, s);
      encodeRecords(good, s);
      let plain: unknown;
      try {
        encode(refused as Message);
      } catch (err) {
        plain = err;
      }
      expect(plain).toBeInstanceOf(TypeError);
      expect(() => encodeRecords(refused as Message, s)).toThrow(new TypeError((plain as Error).message));
      // Nothing of the refused message was registered, and the codec still works.
      roundtrip(s, good);
    }
  });

  it('is refused by the plain decoder and by a table that never published its structure', () => {
    const s = table();
    const m = { type: 'r', v: 1 };
    encodeRecords(m, s);
    const bytes = encodeRecords(m, s).slice();
    expect(() => decode(bytes)).toThrow(DecodeError);
    expect(() => decode(bytes)).toThrow(/extension type 0xc7/);
    expect(() => decodeRecords(bytes, table())).toThrow(/never published/);
    const truncated = bytes.subarray(0, bytes.length - 1);
    expect(() => decodeRecords(truncated, s)).toThrow(DecodeError);
    const wrongType = bytes.slice();
    wrongType[2] = 0x01;
    expect(() => decodeRecords(wrongType, s)).toThrow(/not a record/);
  });

  it('falls back to plain maps once the table is full, and everything still round-trips', () => {
    const s = table();
    const shapes = TABLE_ENTRIES + 50;
    for (let i = 0; i < shapes; i++) encodeRecords({ [`k${i}`]: i }, s);
    expect(s.appended).toBe(TABLE_ENTRIES);
    expect(s.fellBack).toBeGreaterThan(0);
    for (let i = 0; i < shapes; i += 37) {
      const m = { [`k${i}`]: i };
      const bytes = encodeRecords(m, s).slice();
      expect(holdsRecord(bytes)).toBe(i < TABLE_ENTRIES);
      expect(decodeRecords(bytes, s)).toEqual(m);
    }
  });

  it('property: any accepted message round-trips as the plain codec delivers it; refusals match', () => {
    const s = table();
    fc.assert(
      fc.property(anyMessage, (m) => {
        const want = expected(m);
        if (!want.ok) {
          let plain: unknown;
          try {
            encode(m as Message);
          } catch (err) {
            plain = err;
          }
          expect(plain).toBeInstanceOf(TypeError);
          expect(() => encodeRecords(m as Message, s)).toThrow((plain as Error).message);
          return;
        }
        encodeRecords(m as Message, s);
        const bytes = encodeRecords(m as Message, s).slice();
        expect(Buffer.from(encode(decodeRecords(bytes, s)))).toEqual(Buffer.from(encode(want.value)));
        // The plain encoding holds no extension: the plain decoder (which refuses every ext) reads it.
        expect(Buffer.from(encode(decode(encode(m as Message).slice())))).toEqual(Buffer.from(encode(want.value)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('records on a shared bus', () => {
  it('an instance with records: true is read by one without, and hybrid-style plain bytes still decode', async () => {
    const sender = (await createLayer({ records: true, memory: 4 * 1024 * 1024 })) as SharedLayer;
    const receiver = attachLayer(sender.handle) as SharedLayer;
    try {
      const m = { type: 'chat.message', text: 'hi', n: 1, who: { id: 7 } };
      for (let i = 0; i < 3; i++) {
        await sender.send('c', { ...m, n: i });
        expect(await receiver.receive('c')).toEqual({ ...m, n: i });
      }
      await sender.sendMany('c', [m, m]);
      expect(await receiver.receiveMany('c')).toEqual([m, m]);
      await receiver.send('c', m); // plain msgpack from the instance without records
      expect(await sender.receive('c')).toEqual(m);
      await expect(sender.send('c', { type: 'chat.message', text: 'hi', n: undefined } as unknown as Message)).rejects.toThrow(
        'invalid value undefined at message.n',
      );
    } finally {
      await receiver.close();
      await sender.close();
    }
  });

  it('reads every property once per send (the check is the records encode)', async () => {
    const layer = (await createLayer({ records: true, memory: 4 * 1024 * 1024 })) as SharedLayer;
    try {
      let reads = 0;
      const counted = (n: number): Message => {
        const m = { type: 'counted', n } as Record<string, unknown>;
        Object.defineProperty(m, 'g', { enumerable: true, get: () => ++reads });
        return m as Message;
      };
      const me = await layer.newChannel();
      await layer.groupAdd('g', me);
      for (let round = 0; round < 3; round++) {
        // The first round registers the shape (plain maps), the next ones write records.
        reads = 0;
        await layer.send('c', counted(1));
        expect(layer.trySend('c', counted(2))).toBe(true);
        await layer.sendMany('c', [counted(3), counted(4)]);
        await layer.groupSend('g', counted(5));
        expect(reads).toBe(5);
        expect((await layer.receiveMany('c')).map((m) => [m.n, m.g])).toEqual([[1, 1], [2, 2], [3, 3], [4, 4]]);
        expect(await layer.receive(me)).toEqual({ type: 'counted', n: 5, g: 5 });
      }
      expect(layer.memoryStats().structures.reserved).toBe(1);
    } finally {
      await layer.close();
    }
  });

  it('refuses a records option that is not a boolean', async () => {
    await expect(createLayer({ records: 'yes' as unknown as boolean })).rejects.toThrow(/invalid option records: "yes"; it must be true or false/);
  });
});
