/**
 * The records structure table when a writer dies mid-append (src/codec/records.ts): a worker
 * that reserved an entry and was terminated before publishing it does not wedge the table
 * (later shapes get later ids and decode at once; after STUCK_MS the dead entry is marked and
 * the publication frontier moves past it), and workers terminated at random moments while
 * appending leave a table whose every reserved entry ends complete and a channel whose every
 * message decodes intact.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { attachLayer, createLayer, encode, type Message, type SharedLayer } from '../../dist/index.js';
import { STUCK_MS } from '../../dist/codec/records.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function start(workerData: unknown): { worker: Worker; first: Promise<Record<string, unknown>> } {
  const worker = new Worker(new URL('./records-kill-worker.js', import.meta.url), { workerData });
  const first = new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { worker, first };
}

describe('records structure table when a writer is killed', () => {
  it('is not wedged by an entry reserved and never published', async () => {
    const sender = (await createLayer({ records: true, memory: 8 * 1024 * 1024 })) as SharedLayer;
    const receiver = attachLayer(sender.handle) as SharedLayer;
    try {
      await sender.send('k', { warm: 1 }); // allocates the table, registers { warm }
      await receiver.receive('k');
      const { worker, first } = start({ handle: sender.handle, mode: 'reserve' });
      const { reserved } = (await first) as { reserved: number };
      await worker.terminate();
      expect(sender.memoryStats().structures).toMatchObject({ reserved: reserved + 1, published: reserved });
      // A new shape gets the next id and is read at once, as plain map and then as record.
      const m = { after: 'kill', nested: { x: [1, -0] } };
      for (let i = 0; i < 3; i++) {
        await sender.send('k', m);
        expect(encode(await receiver.receive('k'))).toEqual(encode(m));
      }
      const during = sender.memoryStats().structures;
      expect(during.reserved).toBe(reserved + 3);
      expect(during.published).toBe(reserved); // the frontier waits for the dead entry...
      await sleep(STUCK_MS + 200);
      expect(sender.memoryStats().structures).toMatchObject({ reserved: reserved + 3, published: reserved + 3 }); // ...then passes it
      const later = { later: true };
      await sender.send('k', later);
      await sender.send('k', later);
      expect(await receiver.receiveMany('k')).toEqual([later, later]);
    } finally {
      await receiver.close();
      await sender.close();
    }
  });

  it('survives appending workers terminated at random moments', async () => {
    const layer = (await createLayer({ memory: 16 * 1024 * 1024, capacity: 100_000 })) as SharedLayer;
    try {
      const rounds = 8;
      for (let round = 0; round < rounds; round++) {
        const { worker, first } = start({ handle: layer.handle, mode: 'append', channel: 'kill', round });
        const hello = await first;
        expect(hello).toEqual({ ready: true });
        let failure: unknown;
        worker.on('message', (m: { error?: string }) => (failure = m.error));
        await sleep(2 + Math.random() * 15);
        await worker.terminate();
        expect(failure).toBeUndefined();
      }
      // Every message that was queued decodes to exactly what its worker sent.
      let count = 0;
      for (let m = layer.tryReceive('kill'); m !== undefined; m = layer.tryReceive('kill')) {
        const { seq } = m as { seq: number };
        const key = Object.keys(m)[1] as string;
        const round = Number(/^w(\d+)k/.exec(key)?.[1]);
        const want: Message = { seq, [`w${round}k${seq}`]: seq, tail: { [`t${round}.${seq}`]: [seq, -0] } };
        expect(encode(m)).toEqual(encode(want));
        count++;
      }
      expect(count).toBeGreaterThan(0);
      // No entry stays pending for good: after STUCK_MS every reserved one is complete.
      layer.memoryStats(); // observes the frontier (a pending entry there starts its clock)
      await sleep(STUCK_MS + 200);
      const table = layer.memoryStats().structures;
      expect(table.reserved).toBeGreaterThan(0);
      expect(table.published).toBe(table.reserved);
      // And the bus still carries records both ways.
      const other = attachLayer({ ...layer.handle, options: { ...layer.handle.options, records: true } });
      const m = { fresh: 'shape', n: 1 };
      await other.send('kill', m);
      await other.send('kill', m);
      expect(await layer.receiveMany('kill')).toEqual([m, m]);
      await other.close();
    } finally {
      await layer.close();
    }
  });
});
