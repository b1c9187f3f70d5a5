/**
 * Borrowed receives on the shared layer, what only this backend does: the byte strings are
 * views of the shared memory (their `.buffer` is the bus's SharedArrayBuffer: the opt-in)
 * while the plain calls never are; the block stays allocated while borrowed and comes back
 * at release or close (free bytes say so); borrows beyond MAX_BORROWS, group copies with other
 * references, and `frozenMessages` instances get private copies with the same contract; a
 * thread that dies holding borrows gives their blocks back through the reaper.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { MAX_BORROWS, attachLayer, createLayer, type Borrowed, type Message, type SharedLayer } from '../../dist/index.js';

function pattern(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

async function settle(layer: SharedLayer): Promise<number> {
  layer.reclaim();
  return layer.memoryStats().freeBytes;
}

describe('receiveBorrowed on the shared layer', () => {
  it('lends views of the shared block (its .buffer is the bus memory); plain receives never do', async () => {
    const layer = (await createLayer()) as SharedLayer;
    const m = { big: pattern(64 * 1024, 1), small: pattern(5, 2) };
    await layer.send('b', m);
    const b = await layer.receiveBorrowed('b');
    expect(b.message.big).toBeInstanceOf(Uint8Array);
    expect((b.message.big as Uint8Array).buffer).toBeInstanceOf(SharedArrayBuffer);
    expect((b.message.small as Uint8Array).buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(b.message).toEqual(m);
    b.release();
    for (const receive of [
      () => layer.receive('b'),
      async () => layer.tryReceive('b') as Message,
      async () => (await layer.receiveMany('b'))[0] as Message,
    ]) {
      await layer.send('b', m);
      const got = await receive();
      expect((got.big as Uint8Array).buffer).not.toBeInstanceOf(SharedArrayBuffer);
      expect((got.small as Uint8Array).buffer).not.toBeInstanceOf(SharedArrayBuffer);
    }
    await layer.close();
  });

  it('keeps the block while borrowed and gives it back at release (free bytes)', async () => {
    const layer = (await createLayer()) as SharedLayer;
    await layer.send('b', { warm: pattern(100_000, 0) });
    (await layer.receiveBorrowed('b')).release();
    const start = await settle(layer);
    await layer.send('b', { d: pattern(100_000, 3) });
    const b = await layer.receiveBorrowed('b');
    const held = await settle(layer);
    expect(held).toBeLessThan(start - 100_000 + 1);
    // Traffic meanwhile does not touch the held bytes.
    for (let i = 0; i < 50; i++) {
      await layer.send('b', { d: pattern(100_000, 10 + i) });
      await layer.receive('b');
    }
    expect(Buffer.compare(b.message.d as Uint8Array, pattern(100_000, 3))).toBe(0);
    expect(b.release()).toBe(true);
    expect(await settle(layer)).toBe(start);
    await layer.close();
  });

  it(`lends at most MAX_BORROWS (${MAX_BORROWS}) blocks at once; more borrows get private copies`, async () => {
    const layer = (await createLayer({ capacity: 100 })) as SharedLayer;
    for (let i = 0; i < MAX_BORROWS + 4; i++) await layer.send('b', { i, d: pattern(2048, i) });
    const held: Borrowed[] = [];
    for (let i = 0; i < MAX_BORROWS + 4; i++) held.push(await layer.receiveBorrowed('b'));
    const shared = held.map((b) => (b.message.d as Uint8Array).buffer instanceof SharedArrayBuffer);
    expect(shared).toEqual([...Array(MAX_BORROWS).fill(true), false, false, false, false]);
    held.forEach((b, i) => expect(Buffer.compare(b.message.d as Uint8Array, pattern(2048, i))).toBe(0));
    // Released entries are lent again.
    held[3]!.release();
    await layer.send('b', { d: pattern(2048, 99) });
    const again = await layer.receiveBorrowed('b');
    expect((again.message.d as Uint8Array).buffer).toBeInstanceOf(SharedArrayBuffer);
    for (const b of [...held, again]) b.release();
    await layer.close();
  });

  it('copies a group send while other members still reference its block; the last member borrows it', async () => {
    const layer = (await createLayer()) as SharedLayer;
    await layer.groupAdd('g', 'm1');
    await layer.groupAdd('g', 'm2');
    await layer.groupSend('g', { d: pattern(4096, 5) });
    const first = await layer.receiveBorrowed('m1');
    const last = await layer.receiveBorrowed('m2');
    expect((first.message.d as Uint8Array).buffer).not.toBeInstanceOf(SharedArrayBuffer);
    expect((last.message.d as Uint8Array).buffer).toBeInstanceOf(SharedArrayBuffer);
    first.release();
    last.release();
    await layer.close();
  });

  it('close gives every borrow back: release() after it returns false and touches nothing', async () => {
    const layer = (await createLayer()) as SharedLayer;
    // The baseline: an instance that received a message plainly, then closed.
    const plain = attachLayer(layer.handle);
    await layer.send('b', { d: pattern(50_000, 1) });
    await plain.receive('b');
    await plain.close();
    const start = await settle(layer);
    const peer = attachLayer(layer.handle);
    await layer.send('b', { d: pattern(50_000, 1) });
    const b = await peer.receiveBorrowed('b');
    expect(await settle(layer)).toBeLessThan(start);
    await peer.close();
    expect(b.released).toBe(true);
    expect(b.release()).toBe(false);
    expect(await settle(layer)).toBe(start);
    await layer.close();
  });

  it('under frozenMessages, borrows share the reference table with the decode cache', async () => {
    const layer = (await createLayer({ frozenMessages: true })) as SharedLayer;
    await layer.groupAdd('g', 'm1');
    await layer.groupAdd('g', 'm2');
    await layer.groupSend('g', { text: 'cached' });
    expect(await layer.receive('m1')).toEqual({ text: 'cached' }); // cached: one more delivery pending
    const held: Borrowed[] = [];
    for (let i = 0; i < MAX_BORROWS; i++) {
      await layer.send('b', { i, d: pattern(1500, i) });
      held.push(await layer.receiveBorrowed('b'));
    }
    expect(held.every((b) => (b.message.d as Uint8Array).buffer instanceof SharedArrayBuffer)).toBe(true);
    expect(await layer.receive('m2')).toEqual({ text: 'cached' });
    held.forEach((b, i) => expect(Buffer.compare(b.message.d as Uint8Array, pattern(1500, i))).toBe(0));
    for (const b of held) b.release();
    await layer.close();
  });

  it('a thread that dies holding borrows gives their blocks back (the reaper)', async () => {
    const layer = (await createLayer()) as SharedLayer;
    await layer.send('b', { warm: true });
    await layer.receive('b');
    const start = await settle(layer);
    for (let i = 0; i < 5; i++) await layer.send('b', { d: pattern(30_000, i) });
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.url).then(async ({ attachLayer }) => {
        const l = attachLayer(workerData.handle);
        for (let i = 0; i < 5; i++) await l.receiveBorrowed('b');
        parentPort.postMessage('holding');
        setInterval(() => {}, 1000);
      });`;
    const worker = new Worker(code, { eval: true, workerData: { handle: layer.handle, url: new URL('../../dist/index.js', import.meta.url).href } });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    expect(await settle(layer)).toBeLessThan(start - 5 * 30_000 + 1);
    const reaped = layer.watch(worker);
    await worker.terminate();
    await reaped;
    expect(await settle(layer)).toBe(start);
    await layer.close();
  });
});
