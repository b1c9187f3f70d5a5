/**
 * The message contract, case by case (issue: "never change a message silently"): each value
 * either round-trips exactly or is refused at send with a TypeError naming its path and the
 * rule. Checked on the codec and through the memory and shared layers (the Redis and
 * Python side: test/redis/message-contract.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MESSAGE_DEPTH, createLayer, decode, encode, type ChannelLayer, type Message } from '../../dist/index.js';
import { assertMessage } from '../../dist/layer.js';

/** Encode then decode (what every backend does to a message). */
const roundTrip = (m: Message): Message => decode(encode(m).slice());

function refusal(m: unknown): TypeError {
  try {
    assertMessage(m);
  } catch (err) {
    expect(err).toBeInstanceOf(TypeError);
    return err as TypeError;
  }
  throw new Error('expected the message to be refused');
}

/** `{ d: { d: ... } }`, `levels` deep counting the message itself. */
function nested(levels: number): Message {
  let m: Message = {};
  for (let i = 1; i < levels; i++) m = { d: m };
  return m;
}

describe('lone UTF-16 surrogates are refused at send', () => {
  it('names the path, the code unit and the rule', () => {
    const err = refusal({ a: { text: '👍'.slice(0, 1) } });
    expect(err.message).toContain('message.a.text');
    expect(err.message).toContain('U+D83D');
    expect(err.message).toMatch(/lone UTF-16 surrogate/);
    expect(err.message).toMatch(/well-formed/);
  });

  it('finds a lone low surrogate, one at the end, and one in a long string', () => {
    expect(refusal({ s: '\udc00abc' }).message).toContain('index 0');
    expect(refusal({ s: 'abc\ud800' }).message).toContain('index 3');
    expect(refusal({ list: ['x'.repeat(5000) + '\udfff' + 'y'] }).message).toMatch(/message\.list\[0\].*index 5000/);
    expect(refusal({ ['key\ud800']: 1 }).message).toMatch(/lone UTF-16 surrogate/);
  });

  it('accepts well-formed pairs and every plane, short and long, unchanged', () => {
    const text = 'a\u00e9\u4f60\ud83d\udc4d\u{10ffff}\uffff';
    for (const s of [text, text.repeat(200)]) expect(roundTrip({ s })).toEqual({ s });
  });
});

describe('__proto__ keys', () => {
  it('round-trip as own properties, next to __proto_, and never touch a prototype', () => {
    const m = JSON.parse('{"__proto__": {"admin": true}, "__proto_": 2, "inner": {"__proto__": [1]}}') as Message;
    const got = roundTrip(m);
    expect(Object.keys(got)).toEqual(['__proto__', '__proto_', 'inner']);
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(got, '__proto__')?.value).toEqual({ admin: true });
    expect(got.__proto_).toBe(2);
    const inner = got.inner as Record<string, unknown>;
    expect(Object.getPrototypeOf(inner)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(inner, '__proto__')?.value).toEqual([1]);
    expect((got as Record<string, unknown>).admin).toBeUndefined();
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('admin');
  });
});

describe('accessors and Proxies are read exactly once', () => {
  it('sends the value a getter returned while it was checked, once', () => {
    let reads = 0;
    const m = {
      get v(): unknown {
        reads++;
        return reads === 1 ? 'checked' : new Date();
      },
    };
    assertMessage(m);
    const bytes = encode(m as Message).slice();
    expect(reads).toBe(1);
    expect(decode(bytes)).toEqual({ v: 'checked' });
  });

  it('refuses what a getter returns, naming its path, when it is not allowed', () => {
    const m = { a: { get when() { return new Date(); } } };
    expect(refusal(m).message).toContain('message.a.when');
  });

  it('reads a Proxy once per key and sends what it read', () => {
    let gets = 0;
    const target = { a: 1, b: 'x' };
    const proxy = new Proxy(target, {
      get(t, key, receiver) {
        gets++;
        return gets > 2 ? () => 'changed' : Reflect.get(t, key, receiver);
      },
    });
    assertMessage(proxy);
    expect(decode(encode(proxy).slice())).toEqual({ a: 1, b: 'x' });
    expect(gets).toBe(2);
  });

  it('encodes each message as its own, whatever was checked in between', () => {
    const a = { x: 1 };
    const b = { y: 'two' };
    assertMessage(a);
    assertMessage(b);
    expect(decode(encode(a).slice())).toEqual({ x: 1 });
    expect(decode(encode(b).slice())).toEqual({ y: 'two' });
    assertMessage(b);
    expect(decode(encode(b).slice())).toEqual({ y: 'two' });
    expect(decode(encode(b).slice())).toEqual({ y: 'two' }); // the kept bytes are used once
  });

  it('a layer delivers what it checked, whatever the getter returns afterwards', async () => {
    const layer = await createLayer({ backend: 'memory' });
    let reads = 0;
    await layer.send('c', { get v() { return ++reads === 1 ? 1 : { later: new Date() }; } } as unknown as Message);
    expect(await layer.receive('c')).toEqual({ v: 1 });
    expect(reads).toBe(1);
    await layer.close();
  });
});

describe('numbers', () => {
  it('-0 arrives as -0 (float64), 0 as an int', () => {
    const bytes = encode({ z: -0, p: 0 });
    expect(bytes[3]).toBe(0xcb);
    const got = decode(bytes.slice());
    expect(Object.is(got.z, -0)).toBe(true);
    expect(Object.is(got.p, 0)).toBe(true);
  });

  it('NaN and ±Infinity are accepted and travel as float64', () => {
    const m = { nan: NaN, inf: Infinity, ninf: -Infinity, list: [NaN] };
    const bytes = encode(m);
    expect(bytes[5]).toBe(0xcb);
    const got = roundTrip(m);
    expect(got.nan).toBeNaN();
    expect(got.inf).toBe(Infinity);
    expect(got.ninf).toBe(-Infinity);
    expect((got.list as number[])[0]).toBeNaN();
  });

  it('integers of every width round-trip, as ints on the wire', () => {
    const values = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53) + 1];
    for (const n of values) {
      const bytes = encode({ n });
      expect(bytes[3], `${n}`).not.toBe(0xcb);
      expect(roundTrip({ n }).n, `${n}`).toBe(n);
    }
    for (const n of [2 ** 53, -(2 ** 53), 2 ** 64, 1e300, 0.5, -1.5, Number.MIN_VALUE]) expect(roundTrip({ n }).n).toBe(n);
  });
});

describe('maximum depth', () => {
  it(`accepts ${MAX_MESSAGE_DEPTH} levels and refuses one more with a TypeError naming the path`, () => {
    expect(MAX_MESSAGE_DEPTH).toBe(100);
    expect(roundTrip(nested(MAX_MESSAGE_DEPTH))).toEqual(nested(MAX_MESSAGE_DEPTH));
    const err = refusal(nested(MAX_MESSAGE_DEPTH + 1));
    expect(err.message).toContain(`nested deeper than ${MAX_MESSAGE_DEPTH} levels`);
    expect(err.message).toContain('message' + '.d'.repeat(MAX_MESSAGE_DEPTH));
  });

  it('refuses 5000 levels (arrays too) with the same TypeError, never a RangeError', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    expect(refusal({ deep }).message).toContain('nested deeper than');
    expect(refusal(nested(5000)).message).toContain('nested deeper than');
  });

  it('decode refuses hostile nesting of any depth without overflowing the stack', () => {
    // { "": [[[...[nil]...]]] }, `levels` deep: a map, levels - 1 arrays of one element, nil.
    const hostile = (levels: number) => {
      const bytes = new Uint8Array(levels + 2).fill(0x91);
      bytes[0] = 0x81;
      bytes[1] = 0xa0;
      bytes[levels + 1] = 0xc0;
      return bytes;
    };
    expect(() => decode(hostile(MAX_MESSAGE_DEPTH))).not.toThrow();
    for (const levels of [MAX_MESSAGE_DEPTH + 1, 100_000]) {
      expect(() => decode(hostile(levels))).toThrow(/nested deeper than 100 levels/);
    }
  });
});

describe('decode refuses what it cannot deliver unchanged', () => {
  const cases: Array<[string, number[], RegExp]> = [
    ['invalid UTF-8', [0x81, 0xa1, 0x61, 0xa2, 0xc3, 0x28], /not valid UTF-8/],
    ['an encoded surrogate', [0x81, 0xa1, 0x61, 0xa3, 0xed, 0xa0, 0x80], /not valid UTF-8/],
    ['a duplicate key', [0x82, 0xa1, 0x61, 0x01, 0xa1, 0x61, 0x02], /duplicate map key "a"/],
    ['an extension type', [0x81, 0xa1, 0x61, 0xd4, 0x01, 0x00], /extension type/],
    ['a nil key', [0x81, 0xc0, 0x01], /map key/],
    ['truncated bytes', [0x81, 0xa1, 0x61], /truncated/],
    ['trailing bytes', [0x80, 0x00], /after the end/],
    ['not a map', [0x91, 0x01], /not a map/],
    ['a lying array length', [0x81, 0xa1, 0x61, 0xdd, 0xff, 0xff, 0xff, 0xff], /array of 4294967295 elements/],
  ];
  for (const [what, bytes, error] of cases) {
    it(what, () => expect(() => decode(new Uint8Array(bytes))).toThrow(error));
  }

  it('reads bytes keys as their UTF-8 and integer keys as decimal strings', () => {
    // { b"raw": 1, 7: 2, -1: 3 }
    const got = decode(new Uint8Array([0x83, 0xc4, 0x03, 0x72, 0x61, 0x77, 0x01, 0x07, 0x02, 0xff, 0x03]));
    expect(got).toEqual({ raw: 1, '7': 2, '-1': 3 });
  });

  it('reads int64 and uint64 exactly: numbers when safe, bigints beyond', () => {
    const i64 = (hex: string) => decode(new Uint8Array([0x81, 0xa1, 0x6e, 0xd3, ...Buffer.from(hex, 'hex')])).n;
    expect(i64('ffe0000000000001')).toBe(-(2 ** 53) + 1);
    expect(i64('ffe0000000000000')).toBe(-(2n ** 53n));
    expect(i64('8000000000000000')).toBe(-(2n ** 63n));
    expect(i64('001fffffffffffff')).toBe(2 ** 53 - 1);
    expect(i64('0020000000000000')).toBe(2n ** 53n);
  });
});

describe('through the layers', () => {
  const layers: ChannelLayer[] = [];
  beforeAll(async () => {
    layers.push(await createLayer({ backend: 'memory' }));
    layers.push(await createLayer({ backend: 'shared', memory: 4 * 1024 * 1024, maxNames: 256 }));
  });
  afterAll(async () => {
    for (const l of layers) await l.close();
  });

  it('refuse lone surrogates, enqueue nothing, and deliver every special value exactly', async () => {
    for (const layer of layers) {
      await expect(layer.send('c', { t: '\ud83d' })).rejects.toThrow(/message\.t.*lone UTF-16 surrogate/);
      await expect(layer.groupSend('g', { t: ['\ud83d'] })).rejects.toThrow(/message\.t\[0\]/);
      const m = JSON.parse('{"__proto__": 1, "__proto_": 2}') as Message;
      Object.assign(m, { z: -0, nan: NaN, inf: -Infinity, deep: nested(MAX_MESSAGE_DEPTH - 1) });
      await layer.send('c', m);
      const got = await layer.receive('c', { timeout: 0 });
      expect(got).toEqual(m);
      expect(Object.is(got.z, -0)).toBe(true);
      expect(Object.keys(got)).toEqual(['__proto__', '__proto_', 'z', 'nan', 'inf', 'deep']);
      await expect(layer.receive('c', { timeout: 0 })).rejects.toThrow();
    }
  });
});
