import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../dist/index.js';

describe('codec', () => {
  it('writes plain msgpack that other readers understand', () => {
    // {"a": 1} as msgpack: fixmap(1), fixstr "a", positive fixint 1.
    expect(Array.from(encode({ a: 1 }))).toEqual([0x81, 0xa1, 0x61, 0x01]);
    // Floats are float64 (0xcb), as Python's msgpack writes them.
    expect(encode({ f: 1.5 })[3]).toBe(0xcb);
    // bytes are bin (0xc4), not ext or str.
    expect(encode({ b: new Uint8Array([7]) })[3]).toBe(0xc4);
  });

  it('decodes int64 beyond 2^53 as bigint and keeps safe integers as numbers', () => {
    const m = decode(encode({ big: 2n ** 62n, small: 12, neg: -3, safeBig: 7n }));
    expect(m).toEqual({ big: 2n ** 62n, small: 12, neg: -3, safeBig: 7 });
  });

  it('writes integers beyond 32 bits as integers, not floats, and reads them back as numbers', () => {
    const now = 1_764_471_234_567;
    const bytes = encode({ t: now, list: [-(2 ** 40), 2 ** 53 - 1], f: 2 ** 40 + 0.5 });
    // {"t": ...}: fixmap, fixstr "t", then int64 (0xd3) or uint64 (0xcf), not float64 (0xcb).
    expect([0xd3, 0xcf]).toContain(bytes[3]);
    expect(decode(bytes)).toEqual({ t: now, list: [-(2 ** 40), 2 ** 53 - 1], f: 2 ** 40 + 0.5 });
  });

  it('does not change the caller\'s message when it widens integers', () => {
    const message = { t: 2 ** 40, nested: { u: [2 ** 41] } };
    encode(message);
    expect(message).toEqual({ t: 2 ** 40, nested: { u: [2 ** 41] } });
  });

  it('never returns views into the input buffer', () => {
    const bytes = encode({ b: new Uint8Array([1, 2, 3]) }).slice();
    const m = decode(bytes);
    bytes.fill(0);
    expect(Array.from(m.b as Uint8Array)).toEqual([1, 2, 3]);
    expect((m.b as Uint8Array).constructor).toBe(Uint8Array);
  });
});
