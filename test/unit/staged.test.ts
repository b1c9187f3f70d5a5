/**
 * The staged encoding of large byte strings (src/codec/encode.ts: byte strings of DEFER_MIN
 * bytes and more are copied once, at flatten or write time): the bytes are the same as a
 * plain encode for every layout (strings around them, several large ones, nested, at the
 * start and the end, sizes around the threshold); a check (`assertMessage`) followed by the
 * store still walks the message once (a getter runs once); the shared layer stores it intact.
 */
import { describe, expect, it } from 'vitest';
import { createLayer, decode, encode, type Message } from '../../dist/index.js';
import { DEFER_MIN } from '../../dist/codec/encode.js';
import { assertMessage, encodeStaged } from '../../dist/codec.js';

function bytes(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 13 + seed) & 0xff;
  return b;
}

function layouts(): Message[] {
  const sizes = [0, 1, DEFER_MIN - 1, DEFER_MIN, DEFER_MIN + 1, 0xffff, 0x10000, 200_000];
  const out: Message[] = [];
  for (const [i, n] of sizes.entries()) {
    out.push({ only: bytes(n, i) });
    out.push({ a: 'x'.repeat(i * 7), b: bytes(n, i), c: 'after', d: [bytes(n, i + 1), 5, bytes(DEFER_MIN * 2, i)] });
    out.push({ nested: { deeper: { list: [bytes(n, 3), { k: bytes(n, 4) }] } }, tail: bytes(DEFER_MIN, 9), n: i });
  }
  return out;
}

describe('staged encoding of large byte strings', () => {
  it('writes exactly the bytes of a plain encode, for every layout', () => {
    for (const m of layouts()) {
      const plain = encode(m).slice();
      const staged = encodeStaged(m);
      expect(staged.length).toBe(plain.length);
      const target = new Uint8Array(staged.length + 10).fill(0xaa);
      staged.write(target, 5);
      expect(Buffer.compare(target.subarray(5, 5 + plain.length), plain)).toBe(0);
      expect(target[4]).toBe(0xaa);
      expect(target[5 + plain.length]).toBe(0xaa);
      expect(decode(plain)).toEqual(m);
      // bytes(): the same encoding, contiguous
      const again = encodeStaged(m);
      expect(Buffer.compare(again.bytes(), plain)).toBe(0);
    }
  });

  it('refuses to write a staged encoding another encode overwrote, or twice', () => {
    const staged = encodeStaged({ b: bytes(DEFER_MIN * 2, 1) });
    encode({ other: 1 });
    expect(() => staged.write(new Uint8Array(staged.length), 0)).toThrow(/overwritten/);
    const once = encodeStaged({ b: bytes(DEFER_MIN * 2, 1) });
    once.write(new Uint8Array(once.length), 0);
    expect(() => once.write(new Uint8Array(once.length), 0)).toThrow(/already written/);
    expect(() => once.bytes()).toThrow(/already written/);
  });

  it('a checked message is stored from the same walk (a getter runs once)', async () => {
    let reads = 0;
    const m = {};
    Object.defineProperty(m, 'payload', {
      enumerable: true,
      get: () => {
        reads++;
        return bytes(DEFER_MIN * 4, reads);
      },
    });
    assertMessage(m);
    const staged = encodeStaged(m as Message);
    const target = new Uint8Array(staged.length);
    staged.write(target, 0);
    expect(reads).toBe(1);
    expect(Buffer.compare(decode(target).payload as Uint8Array, bytes(DEFER_MIN * 4, 1))).toBe(0);
    const layer = await createLayer();
    reads = 0;
    await layer.send('s', m as Message);
    expect(reads).toBe(1);
    expect(Buffer.compare((await layer.receive('s')).payload as Uint8Array, bytes(DEFER_MIN * 4, 1))).toBe(0);
    await layer.close();
  });

  it('with records, large byte strings inside records (ext lengths of every width) arrive intact, borrowed too', async () => {
    const layer = await createLayer({ maxMessageSize: 1 << 20, capacity: 1000, records: true });
    for (let round = 0; round < 3; round++) {
      // The same shapes again and again: from the second use on they travel as records.
      for (const m of layouts()) {
        await layer.send('r', m);
        expect(await layer.receive('r')).toEqual(m);
        await layer.send('r', m);
        const b = await layer.receiveBorrowed('r');
        expect(b.message).toEqual(m);
        b.release();
      }
    }
    await layer.close();
  });

  it('the shared layer stores and delivers every layout intact (send, groupSend, sendMany)', async () => {
    const layer = await createLayer({ maxMessageSize: 1 << 20, capacity: 1000 });
    await layer.groupAdd('g', 'm');
    for (const m of layouts()) {
      await layer.send('s', m);
      expect(await layer.receive('s')).toEqual(m);
      await layer.groupSend('g', m);
      expect(await layer.receive('m')).toEqual(m);
    }
    await layer.sendMany('s', layouts());
    expect(await layer.receiveMany('s', { max: 1000 })).toEqual(layouts());
    await layer.close();
  });
});
