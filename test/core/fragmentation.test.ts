/**
 * Free memory is reusable for any size, whatever the history: the regression of a backlog of
 * 300-byte messages that filled the arena, after which (with blocks that were never split or
 * merged) every size from 1 KiB up failed for ever. After the bus is drained and reclaimed,
 * free bytes are back at exactly their starting figure and a message of maxMessageSize fits.
 */
import { describe, expect, it } from 'vitest';
import { OutOfSharedMemory, createLayer, type SharedLayer } from '../../dist/index.js';
import { encode } from '../../dist/codec.js';

/** A message whose msgpack encoding is exactly `size` bytes (a `b` field of bytes). */
function messageOf(size: number, fill: number): { b: Uint8Array } {
  for (let n = size; n >= 0; n--) {
    if (encode({ b: new Uint8Array(n) }).length === size) return { b: new Uint8Array(n).fill(fill) };
  }
  throw new Error(`no message encodes to ${size} bytes`);
}

describe('fragmentation', () => {
  it('a drained backlog of 300-byte messages leaves the arena usable for every size', async () => {
    const layer: SharedLayer = await createLayer({ capacity: 1_000_000 }); // default 64 MiB
    const start = layer.memoryStats();
    expect(start.largestFreeRun).toBe(start.freePages * start.pageBytes); // one run of free pages
    let n = 0;
    let failure: unknown;
    try {
      for (;;) {
        await layer.send('backlog', { text: 'x'.repeat(300) });
        n++;
      }
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(OutOfSharedMemory);
    expect((failure as Error).message).toMatch(/arena bytes are free/);
    expect(n).toBeGreaterThan(100_000);
    for (let i = 0; i < n; i++) expect(await layer.receive('backlog', { timeout: 0 })).toEqual({ text: 'x'.repeat(300) });
    layer.reclaim();
    const drained = layer.memoryStats();
    expect({ free: drained.freeBytes, run: drained.largestFreeRun, records: drained.records, pooled: drained.pooledRecords }).toEqual({
      free: start.freeBytes,
      run: start.largestFreeRun,
      records: start.records,
      pooled: 0,
    });

    const max = 1024 * 1024; // the default maxMessageSize of a 64 MiB bus
    for (const size of [4096, 64 * 1024, max]) {
      const message = messageOf(size, size & 0xff);
      expect(encode(message).length).toBe(size);
      await layer.send('other', message);
      const got = (await layer.receive('other', { timeout: 0 })) as { b: Uint8Array };
      expect(got.b.length).toBe(message.b.length);
      expect(got.b.every((b) => b === (size & 0xff))).toBe(true);
    }
    layer.reclaim();
    expect(layer.memoryStats().freeBytes).toBe(start.freeBytes);
    await layer.close();
  });

  it('says the truth when live blocks scatter the free memory: no run of pages for a large block', async () => {
    const layer: SharedLayer = await createLayer({ memory: 8 * 1024 * 1024, capacity: 5000 });
    const start = layer.memoryStats();
    const pad = 'q'.repeat(1000);
    let n = 0;
    try {
      for (;; n++) await layer.send(n % 2 === 0 ? 'a' : 'b', { n, pad });
    } catch (err) {
      expect(err).toBeInstanceOf(OutOfSharedMemory);
    }
    expect(n).toBeGreaterThan(4000);
    // Every other message goes: each page keeps half of its blocks, so no page is free.
    for (let i = 0; i < n; i += 2) expect(((await layer.receive('a', { timeout: 0 })) as { n: number }).n).toBe(i);
    const mid = layer.memoryStats();
    expect(mid.freeBytes).toBeGreaterThan(start.freeBytes * 0.4);
    const big = messageOf(64 * 1024, 1);
    const err = await layer.send('c', big).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(OutOfSharedMemory);
    expect(err?.message).toMatch(/arena bytes are free; a block of 65552 bytes needs 5 free pages in a row and the longest run is \d+ pages/);
    // The half-empty pages still serve their own size class.
    for (let i = 0; i < 100; i++) await layer.send('a', { n: -1, pad });
    for (let i = 0; i < 100; i++) await layer.receive('a', { timeout: 0 });
    // Once the live blocks go, the whole arena serves any size again.
    for (let i = 1; i < n; i += 2) expect(((await layer.receive('b', { timeout: 0 })) as { n: number }).n).toBe(i);
    await layer.send('c', big);
    expect(((await layer.receive('c', { timeout: 0 })) as { b: Uint8Array }).b.length).toBe(big.b.length);
    layer.reclaim();
    expect(layer.memoryStats().freeBytes).toBe(start.freeBytes);
    await layer.close();
  });

  it('interleaved sizes: every size class filled, freed in a scattered order, then one large block takes all', async () => {
    const max = 2 * 1024 * 1024;
    const layer: SharedLayer = await createLayer({ memory: 8 * 1024 * 1024, capacity: 10_000, maxMessageSize: max });
    const start = layer.memoryStats();
    const sizes = [0, 10, 100, 300, 700, 1500, 3000, 6000, 9000, 20_000];
    let k = 0;
    try {
      for (;; k++) await layer.send(`c${k % 7}`, { pad: 'p'.repeat(sizes[k % sizes.length] as number) });
    } catch (err) {
      expect(err).toBeInstanceOf(OutOfSharedMemory);
    }
    expect(k).toBeGreaterThan(500);
    // Drain the channels in a scattered order (every other channel first).
    for (const c of [0, 2, 4, 6, 1, 3, 5]) {
      for (;;) {
        try {
          await layer.receive(`c${c}`, { timeout: 0 });
        } catch {
          break;
        }
      }
    }
    layer.reclaim();
    const end = layer.memoryStats();
    expect(end.freeBytes).toBe(start.freeBytes);
    expect({ pages: end.freePages, run: end.largestFreeRun }).toEqual({ pages: start.freePages, run: start.largestFreeRun });
    const big = messageOf(max, 7);
    await layer.send('big', big);
    expect(((await layer.receive('big')) as { b: Uint8Array }).b.length).toBe(big.b.length);
    layer.reclaim();
    expect(layer.memoryStats().freeBytes).toBe(start.freeBytes);
    await layer.close();
  });
});
