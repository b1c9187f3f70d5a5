/**
 * Messages of exact encoded sizes for the conformance suite's size sweep: 0 payload bytes,
 * then encoded sizes 2^k - 1, 2^k and 2^k + 1 up to a limit, each carrying its own size
 * and a payload whose bytes depend on that size, so that a receiver handed the wrong
 * message (say, the previous one) or a cut or padded copy fails the comparison.
 */
import { expect } from 'vitest';
import { encode, type Message } from '../../dist/index.js';

/** The payload of the message of encoded size `size`, `length` bytes long. */
function payload(size: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = (size * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

function messageOf(size: number, length: number): Message {
  return { size, b: payload(size, length) };
}

/**
 * The message whose encoding is exactly `size` bytes, or, where no payload length gives
 * exactly that (a msgpack bin header grows at 256 and 65536 bytes), the largest below it.
 */
export function messageOfSize(size: number): Message {
  let best = messageOf(size, 0);
  for (let length = Math.max(0, size - 40); length <= size; length++) {
    const m = messageOf(size, length);
    const got = encode(m).length;
    if (got > size) break;
    best = m;
    if (got === size) break;
  }
  return best;
}

/** Encoded sizes of the sweep: the smallest message, then 2^k - 1, 2^k, 2^k + 1 up to `max`, then `max`. */
export function sweepSizes(max: number): number[] {
  const sizes = new Set<number>([0]);
  for (let p = 1; p <= max; p *= 2) for (const s of [p - 1, p, p + 1]) if (s <= max) sizes.add(s);
  sizes.add(max);
  return [...sizes].sort((a, b) => a - b);
}

/** The sweep's messages, smallest first (so that each is larger than every one received before). */
export function sweepMessages(max: number): Message[] {
  const seen = new Set<number>();
  const out: Message[] = [];
  for (const size of sweepSizes(max)) {
    const m = messageOfSize(size);
    const length = encode(m).length;
    if (seen.has(length)) continue;
    seen.add(length);
    out.push(m);
  }
  return out;
}

/** Expect `got` to be `sent` byte for byte (a plain comparison would be slow on 100 KiB). */
export function expectSame(got: Message, sent: Message, via: string): void {
  expect(got.size, via).toBe(sent.size);
  const a = got.b as Uint8Array;
  const b = sent.b as Uint8Array;
  expect(a, via).toBeInstanceOf(Uint8Array);
  expect(a.length, `${via}: payload length of the ${String(sent.size)}-byte message`).toBe(b.length);
  expect(Buffer.compare(a, b), `${via}: payload bytes of the ${String(sent.size)}-byte message`).toBe(0);
  expect(Object.keys(got).sort(), via).toEqual(['b', 'size']);
}
