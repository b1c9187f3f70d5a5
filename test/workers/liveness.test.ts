/**
 * The liveness route for threads that nobody watches: when the instance slots run short,
 * slots whose thread ran neither its event loop nor a ringbus call for livenessTimeout are
 * reclaimed. A worker terminated unwatched gives its slots (and its leases) back; a live
 * thread that only stalled is reclaimed too, and then finds its layer closed, its leases
 * redelivered, and the bus intact; live, idle instances are never reclaimed.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { attachLayer, createLayer, type SharedLayer } from '../../dist/index.js';

const WORKER = new URL('./lifetime-worker.js', import.meta.url);
const SLOTS = 4096;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(workerData: Record<string, unknown>) {
  const worker = new Worker(WORKER, { workerData });
  const inbox: unknown[] = [];
  const waiting: Array<(m: unknown) => void> = [];
  worker.on('message', (m) => (waiting.length > 0 ? waiting.shift()!(m) : inbox.push(m)));
  worker.on('error', () => {});
  const exit = new Promise((r) => worker.once('exit', r));
  const next = (): Promise<any> => (inbox.length > 0 ? Promise.resolve(inbox.shift()) : new Promise((r) => waiting.push(r)));
  return { worker, next, exit };
}

/** Attach until `count` slots are in use (the creator's included). */
function fill(layer: SharedLayer, count: number): SharedLayer[] {
  const held: SharedLayer[] = [];
  while (layer.memoryStats().instances < count) held.push(attachLayer(layer.handle));
  return held;
}

describe('instance slots of threads that stopped running', () => {
  it('come back from workers terminated unwatched once slots run short, with their leases; live idle instances stay', async () => {
    const layer = await createLayer({ delivery: 'at-least-once', livenessTimeout: 500, leaseTimeout: 600_000 });
    await layer.send('life.leaked', { job: 1 });
    const dead = start({ handle: layer.handle, role: 'leak', count: 20, end: 'stay', lease: true });
    await dead.next();
    await dead.worker.terminate(); // unwatched: no exit hook runs, nobody reaps it
    expect(layer.memoryStats().instances).toBe(21);
    const held = fill(layer, SLOTS);
    expect(() => attachLayer(layer.handle)).toThrow(/all 4096 instance slots.*livenessTimeout \(500 ms\)/);
    // The creator's observer and failing attaches mark the slots; the dead ones stay marked.
    let extra: SharedLayer | undefined;
    while (extra === undefined) {
      await sleep(100); // the live instances of this thread clear their marks meanwhile
      try {
        extra = attachLayer(layer.handle);
      } catch (err) {
        expect(err).toMatchObject({ region: 'instances' });
      }
    }
    expect(layer.memoryStats().instances).toBeLessThanOrEqual(SLOTS - 19);
    // Every live instance kept its slot and works.
    expect(held.filter((l) => l.closed)).toEqual([]);
    await held[held.length - 1]!.send('life.check', { ok: 1 });
    expect(await held[0]!.receive('life.check', { timeout: 5000 })).toEqual({ ok: 1 });
    // The lease the terminated worker held came back long before leaseTimeout.
    expect(await layer.receive('life.leaked', { timeout: 5000 })).toEqual({ job: 1 });
    await Promise.all([...held, extra].map((l) => l.close()));
    expect(layer.memoryStats().instances).toBe(1);
    expect(layer.memoryStats().leases).toBe(0);
    await layer.close();
  }, 120_000);

  it('a live thread that stalled past livenessTimeout while slots ran short finds its layer closed; the bus is intact', async () => {
    const layer = await createLayer({ delivery: 'at-least-once', livenessTimeout: 400, leaseTimeout: 600_000 });
    await layer.send('stall.jobs', { job: 'a' });
    const held = fill(layer, SLOTS - 100); // above 7/8: the creator's observer sweeps
    const staller = start({ handle: layer.handle, role: 'stall', stallMs: 3000 });
    expect(await staller.next()).toEqual({ ready: true });
    const { receive, ack, later, closed } = await staller.next();
    expect(receive).toMatchObject({ ok: false, code: 'ERR_RINGBUS_LAYER_CLOSED' });
    expect(receive.message).toMatch(/lost its instance slot/);
    expect(ack).toBe(false); // its lease was redelivered
    expect(later).toMatchObject({ ok: false, code: 'ERR_RINGBUS_LAYER_CLOSED' });
    expect(closed).toBe(true);
    expect(await layer.receive('stall.jobs', { timeout: 5000 })).toEqual({ job: 'a' });
    // Its pending receive undid its own parked count: a waiter on that channel is woken.
    const waiter = layer.receive('stall.rx', { timeout: 30_000 });
    await sleep(50);
    await held[0]!.send('stall.rx', { n: 1 });
    expect(await waiter).toEqual({ n: 1 });
    expect(held.filter((l) => l.closed)).toEqual([]);
    await Promise.all(held.map((l) => l.close()));
    expect(layer.memoryStats().instances).toBe(1);
    expect(layer.memoryStats().leases).toBe(0);
    await layer.close();
  }, 120_000);
});

describe('the live word under concurrency (stress)', () => {
  it('never reclaims a live instance while threads attach, use and close layers and the table is swept', async () => {
    const layer = await createLayer({ delivery: 'at-least-once', livenessTimeout: 300 });
    // Above 7/8 of the slots in use: the creator's observer marks and sweeps every 150 ms all
    // along, while the workers take and give back the few slots left.
    const held = fill(layer, SLOTS - 8);
    const rounds = 150;
    const workers = Array.from({ length: 4 }, (_, id) => start({ handle: layer.handle, role: 'churn', id, rounds }));
    const results = await Promise.all(workers.map((w) => w.next()));
    for (const r of results) expect(r).toEqual({ failures: 0, received: rounds * 3 });
    expect(held.filter((l) => l.closed)).toEqual([]);
    await Promise.all(held.map((l) => l.close()));
    await Promise.all(workers.map((w) => w.exit));
    expect(layer.memoryStats().instances).toBe(1);
    expect(layer.memoryStats().leases).toBe(0);
    await layer.close();
  }, 300_000);
});
