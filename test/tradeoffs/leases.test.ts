/**
 * At-least-once delivery on the shared layer, beyond the conformance section:
 *
 * - under concurrent load (producer threads, consumer threads that nack some messages on
 *   their first delivery): every message is acknowledged exactly once, every redelivery is
 *   flagged by its delivery count, and the bus is back to its baseline;
 * - a lease that times out comes back even when nobody takes leases (the sweep timer);
 * - a lease whose holder dies comes back at once: a watched Worker, a worker of a ringbus
 *   pool (createPool watches its workers); a holder that closes its layer gives its leases back;
 * - LIFO and at-least-once together: a nacked message is the next one out;
 * - a per-channel pattern that makes a LIFO channel drop-oldest is refused with Unsupported.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';
import { createPool } from '../../dist/pool.js';

const OPTIONS = { memory: 8 * 1024 * 1024, maxNames: 1024 };

function startWorker(workerData: Record<string, unknown>): { worker: Worker; next: () => Promise<any> } {
  const worker = new Worker(new URL('./lease-worker.js', import.meta.url), { workerData });
  const inbox: unknown[] = [];
  const waiting: Array<(m: unknown) => void> = [];
  worker.on('message', (m) => (waiting.length > 0 ? waiting.shift()!(m) : inbox.push(m)));
  const failed = new Promise<never>((_, reject) => {
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`lease worker exited with code ${code}`)));
  });
  failed.catch(() => {});
  const next = () =>
    Promise.race([inbox.length > 0 ? Promise.resolve(inbox.shift()) : new Promise((resolve) => waiting.push(resolve)), failed]);
  return { worker, next };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('at-least-once delivery on the shared layer', () => {
  it('acknowledges every message exactly once with 3 consumer threads that nack some', async () => {
    const count = 3000;
    const layer = (await createLayer({ ...OPTIONS, delivery: 'at-least-once', capacity: 64, full: 'wait' })) as SharedLayer;
    await layer.send('leases.load', { warm: true });
    await layer.receive('leases.load');
    const baseline = layer.memoryStats();
    const arrays = {
      acked: new SharedArrayBuffer(count * 4),
      first: new SharedArrayBuffer(count * 4),
      maxSeen: new SharedArrayBuffer(count * 4),
    };
    const consumers = [0, 1, 2].map(() =>
      startWorker({ role: 'consumer', handle: layer.handle, channel: 'leases.load', nackRate: 0.1, ...arrays }),
    );
    for (let s = 0; s < count; s++) await layer.send('leases.load', { s });
    for (let i = 0; i < consumers.length; i++) await layer.send('leases.load', { end: true });
    const reports = await Promise.all(consumers.map((c) => c.next()));
    const nacks = reports.reduce((n, r) => n + r.nacks, 0);
    expect(nacks).toBeGreaterThan(0);
    const acked = new Int32Array(arrays.acked);
    const first = new Int32Array(arrays.first);
    const maxSeen = new Int32Array(arrays.maxSeen);
    let redelivered = 0;
    for (let s = 0; s < count; s++) {
      expect(acked[s], `seq ${s} acknowledged`).toBe(1);
      expect(first[s], `seq ${s} first deliveries`).toBe(1);
      if (maxSeen[s]! > 1) redelivered++;
    }
    // Every nack came back as a redelivery (deliveries 2) and was then acknowledged.
    expect(redelivered).toBe(nacks);
    expect(layer.stats().depths).toEqual({});
    const after = layer.memoryStats();
    expect({ leases: after.leases, instances: after.instances, free: after.freeBytes }).toEqual({
      leases: 0,
      instances: 1,
      free: baseline.freeBytes,
    });
    await layer.close();
  });

  it('brings a timed-out lease back even when nobody takes leases (the sweep timer)', async () => {
    const layer = (await createLayer({ ...OPTIONS, delivery: 'at-least-once', leaseTimeout: 100 })) as SharedLayer;
    await layer.send('leases.timeout', { n: 1 });
    const lost = await layer.receiveLease('leases.timeout');
    expect(layer.stats().depths).toEqual({});
    expect(layer.memoryStats().leases).toBe(1);
    await sleep(400);
    expect(layer.stats().depths).toEqual({ 'leases.timeout': 1 });
    expect(layer.memoryStats().leases).toBe(0);
    expect(await lost.ack()).toBe(false);
    expect(await layer.receive('leases.timeout', { timeout: 0 })).toEqual({ n: 1 });
    await layer.close();
  });

  it('gives a watched worker’s lease back as soon as the worker dies, flagged as a redelivery', async () => {
    const layer = (await createLayer({ ...OPTIONS, delivery: 'at-least-once', leaseTimeout: 60_000 })) as SharedLayer;
    await layer.send('leases.death', { job: 1 });
    const holder = startWorker({ role: 'holder', handle: layer.handle, channel: 'leases.death' });
    const returned = layer.watch(holder.worker);
    expect(await holder.next()).toEqual({ message: { job: 1 }, deliveries: 1 });
    expect(layer.memoryStats()).toMatchObject({ leases: 1, instances: 2 });
    await holder.worker.terminate();
    expect(await returned).toBe(1);
    const again = await layer.receiveLease('leases.death', { timeout: 1000 });
    expect(again.message).toEqual({ job: 1 });
    expect(again.deliveries).toBe(2);
    expect(await again.ack()).toBe(true);
    expect(layer.memoryStats()).toMatchObject({ leases: 0, instances: 1 });
    await layer.close();
  });

  it('gives the leases of an instance that closes back to their channels', async () => {
    const layer = (await createLayer({ ...OPTIONS, delivery: 'at-least-once', leaseTimeout: 60_000 })) as SharedLayer;
    await layer.send('leases.close', { job: 2 });
    const holder = startWorker({ role: 'holder', handle: layer.handle, channel: 'leases.close' });
    expect(await holder.next()).toMatchObject({ deliveries: 1 });
    holder.worker.postMessage({ close: true });
    expect(await holder.next()).toEqual({ closed: true });
    const again = await layer.receiveLease('leases.close', { timeout: 1000 });
    expect({ message: again.message, deliveries: again.deliveries }).toEqual({ message: { job: 2 }, deliveries: 2 });
    await again.ack();
    await holder.worker.terminate();
    await layer.close();
  });

  it('gives a pool worker’s lease back when the worker dies (createPool watches its workers)', async () => {
    const layer = (await createLayer({ ...OPTIONS, delivery: 'at-least-once', leaseTimeout: 60_000 })) as SharedLayer;
    const pool = createPool(layer, {
      filename: new URL('./pool-lease-task.js', import.meta.url).href,
      minThreads: 1,
      maxThreads: 1,
    });
    try {
      await layer.send('leases.pool', { job: 3 });
      const running = pool.run({ channel: 'leases.pool', reply: 'leases.pool.reply' });
      running.catch(() => {}); // the task's worker exits: the task fails, as it should
      const held = (await layer.receive('leases.pool.reply', { timeout: 10_000 })) as { deliveries: number };
      expect(held.deliveries).toBe(1);
      // Well before the 60 s lease timeout: the pool saw its worker exit.
      const again = await layer.receiveLease('leases.pool', { timeout: 10_000 });
      expect({ message: again.message, deliveries: again.deliveries }).toEqual({ message: { job: 3 }, deliveries: 2 });
      expect(await again.ack()).toBe(true);
      await expect(running).rejects.toThrow();
    } finally {
      await pool.destroy();
      await layer.close();
    }
  });

  it('serves a nacked message first on a LIFO channel too', async () => {
    const layer = await createLayer({ ...OPTIONS, delivery: 'at-least-once', order: 'lifo' });
    for (let i = 0; i < 3; i++) await layer.send('leases.stack', { i });
    const top = await layer.receiveLease('leases.stack');
    expect(top.message).toEqual({ i: 2 });
    await layer.send('leases.stack', { i: 3 });
    await top.nack();
    const again = await layer.receiveLease('leases.stack');
    expect({ message: again.message, deliveries: again.deliveries }).toEqual({ message: { i: 2 }, deliveries: 2 });
    await again.ack();
    const order = [];
    for (let k = 0; k < 3; k++) order.push((await layer.receive('leases.stack', { timeout: 0 })).i);
    expect(order).toEqual([3, 1, 0]);
    await layer.close();
  });

  it('refuses drop-oldest on a LIFO channel with Unsupported, naming the channel', async () => {
    const layer = await createLayer({ ...OPTIONS, channelOrder: { 'stack.*': 'lifo' }, channelFull: { 'stack.*': 'drop-oldest' } });
    const err = await layer.send('stack.a', { x: 1 }).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.code).toBe('ERR_RINGBUS_UNSUPPORTED');
    expect(err?.message).toContain("'stack.a'");
    await layer.send('queue.a', { x: 1 }); // other channels are unaffected
    await layer.close();
  });
});
