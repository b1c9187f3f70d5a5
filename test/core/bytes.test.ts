/**
 * Large payloads on the shared layer are copied out of the shared memory once: a message of
 * 1 KiB or more gets a buffer of its own, and its byte strings are views of it (no second
 * copy). Checked: the bytes arrive exactly; no byte string is a view of shared memory; a
 * byte string's `.buffer` holds this message's own encoded bytes and nothing of any other
 * message; byte strings of one message do not overlap; later receives never change what an
 * earlier one returned; in small messages, byte strings up to 64 bytes keep a buffer each and
 * longer ones share one buffer holding the message's byte strings only. The same on the
 * lease path (a message copied out of its lease slot).
 */
import { describe, expect, it } from 'vitest';
import { createLayer, encode, type Message } from '../../dist/index.js';

function pattern(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

function large(seed: number): Message {
  return { type: 'blob', seed, big: pattern(64 * 1024, seed), small: pattern(10, seed + 1), list: [pattern(3, seed + 2)] };
}

function expectOwned(got: Message, sent: Message): void {
  expect(got).toEqual(sent);
  const bins = [got.big, got.small, (got.list as Uint8Array[])[0]] as Uint8Array[];
  const buffer = bins[0]!.buffer;
  for (const b of bins) {
    expect(b.constructor).toBe(Uint8Array);
    expect(b.buffer instanceof SharedArrayBuffer).toBe(false);
    expect(b.buffer).toBe(buffer); // one buffer for the message's byte strings
  }
  // The buffer is this message's encoded bytes, nothing more (after up to 7 zero bytes: the
  // copy keeps the alignment the bytes had in shared memory, where it is the fast one).
  const all = new Uint8Array(buffer);
  const encoded = encode(sent);
  const skew = all.length - encoded.length;
  expect(skew).toBeGreaterThanOrEqual(0);
  expect(skew).toBeLessThan(8);
  expect(all.subarray(0, skew).every((v) => v === 0)).toBe(true);
  expect(Buffer.compare(all.subarray(skew), encoded)).toBe(0);
  const ranges = bins.map((b) => [b.byteOffset, b.byteOffset + b.length] as const).sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThanOrEqual(ranges[i - 1]![1]);
}

describe('large payloads: one copy out of the shared memory', () => {
  it('sendMany / receiveMany: every message arrives in a buffer of its own', async () => {
    for (const backend of ['shared', 'memory'] as const) {
      const layer = await createLayer({ backend, maxMessageSize: 1 << 20 } as never);
      const ch = `bytes.many.${backend}`;
      const sent = [0, 1, 2, 3].map(large);
      await layer.sendMany(ch, sent);
      const got = await layer.receiveMany(ch, { max: 10 });
      expect(got).toEqual(sent);
      for (let i = 0; i < got.length; i++) {
        if (backend === 'shared') expectOwned(got[i]!, sent[i]!);
        // No byte string's buffer reaches into another message of the batch.
        for (const b of [got[i]!.big, got[i]!.small] as Uint8Array[]) expect(b.buffer.byteLength).toBeLessThan(encode(sent[i]!).length + 8);
      }
      await layer.close();
    }
  });

  it('receive, receiveMany and tryReceive hand out byte strings that view a buffer of the message alone', async () => {
    const layer = await createLayer({ maxMessageSize: 1 << 20 });
    const ch = 'bytes.large';
    const kept: Array<[Message, Message]> = [];
    for (let seed = 0; seed < 6; seed++) {
      await layer.send(ch, large(seed));
      const got =
        seed % 3 === 0 ? await layer.receive(ch) : seed % 3 === 1 ? (await layer.receiveMany(ch))[0]! : layer.tryReceive(ch)!;
      expectOwned(got, large(seed));
      kept.push([got, large(seed)]);
      // Writing into what was received changes nothing else.
      (got.big as Uint8Array).fill(0xee);
    }
    // Later receives did not reuse or overwrite earlier results (beyond the writes above).
    for (const [got, sent] of kept) {
      expect(got.small).toEqual(sent.small);
      expect((got.list as Uint8Array[])[0]).toEqual((sent.list as Uint8Array[])[0]);
    }
    await layer.close();
  });

  it('small messages: tiny byte strings get a buffer each, larger ones share one buffer of the message alone', async () => {
    const layer = await createLayer();
    await layer.send('bytes.small', { a: pattern(8, 1), b: pattern(16, 2) });
    const got = await layer.receive('bytes.small');
    for (const b of [got.a, got.b] as Uint8Array[]) {
      expect(b.byteOffset).toBe(0);
      expect(b.buffer.byteLength).toBe(b.length);
    }
    expect(got.a).toEqual(pattern(8, 1));
    // Byte strings over 64 bytes share one buffer per message: it holds their bytes (in order,
    // not overlapping) and zeros, nothing of any other message, and later receives leave it be.
    const sent = { x: 'x', a: pattern(100, 3), tiny: pattern(4, 4), b: [pattern(200, 5)], c: pattern(65, 6) };
    const noise = { x: 'y', a: pattern(300, 9), b: [pattern(300, 10)] };
    await layer.send('bytes.small', sent);
    await layer.send('bytes.small', noise);
    const m = await layer.receive('bytes.small');
    const other = await layer.receive('bytes.small');
    expect(m).toEqual(sent);
    expect(other).toEqual(noise);
    const shared = [m.a, (m.b as Uint8Array[])[0], m.c] as Uint8Array[];
    const buffer = shared[0]!.buffer;
    expect(buffer).not.toBeInstanceOf(SharedArrayBuffer);
    for (const b of shared) expect(b.buffer).toBe(buffer);
    expect((m.tiny as Uint8Array).buffer).not.toBe(buffer);
    expect(((other.b as Uint8Array[])[0] as Uint8Array).buffer).not.toBe(buffer);
    const all = new Uint8Array(buffer);
    const used = shared.reduce((n, b) => n + b.length, 0);
    expect(Buffer.compare(all.subarray(0, used), Buffer.concat(shared))).toBe(0);
    expect(all.subarray(used).every((v) => v === 0)).toBe(true);
    await layer.close();
  });

  it('the lease path too (the message is copied out of its lease slot)', async () => {
    const layer = await createLayer({ delivery: 'at-least-once', maxMessageSize: 1 << 20 });
    await layer.send('bytes.lease', large(9));
    const lease = await layer.receiveLease('bytes.lease');
    expectOwned(lease.message, large(9));
    expect(await lease.nack()).toBe(true);
    const again = await layer.receiveLease('bytes.lease');
    expectOwned(again.message, large(9));
    expect(await again.ack()).toBe(true);
    expect(layer.memoryStats().leases).toBe(0);
    await layer.close();
  });
});
