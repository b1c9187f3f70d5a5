/**
 * layer.onEvent: drops (a full group member, drop-oldest evictions), expiries and
 * redeliveries are reported with their channel on every backend where they happen (Redis
 * against a real redis-server), the counts agree with stats(), and unsubscribing stops them.
 */
import { describe, expect, it } from 'vitest';
import { createLayer, type ChannelLayer, type LayerEvent } from '../../dist/index.js';
import { redisTestsEnabled, uniquePrefix, useRedisServer } from '../redis/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const redisEnabled = redisTestsEnabled();
// One server for the file's Redis cases (none when Redis tests are skipped).
const redis = redisEnabled ? useRedisServer() : undefined;

const backends: Array<[string, (o: Record<string, unknown>) => Promise<ChannelLayer>]> = [
  ['memory', (o) => createLayer({ backend: 'memory', ...o } as never)],
  ['shared', (o) => createLayer({ memory: 4 * 1024 * 1024, ...o } as never)],
];
if (redisEnabled) {
  backends.push(['redis', (o) => createLayer({ backend: 'redis', hosts: [redis!.url], prefix: uniquePrefix('ev'), ...o } as never)]);
}

/** The events of `layer` while `fn` runs, summed by type/reason/channel. */
async function collect(layer: ChannelLayer, fn: () => Promise<void>): Promise<LayerEvent[]> {
  const events: LayerEvent[] = [];
  const stop = layer.onEvent((e) => events.push(e));
  try {
    await fn();
  } finally {
    stop();
  }
  return events;
}

const total = (events: LayerEvent[], type: string) => events.filter((e) => e.type === type).reduce((n, e) => n + ('count' in e ? e.count : 1), 0);

describe.each(backends)('onEvent on %s', (name, make) => {
  it('reports a groupSend member that was full, naming the group', async () => {
    const layer = await make({ capacity: 1 });
    const events = await collect(layer, async () => {
      await layer.groupAdd('ev.room', 'ev.full');
      await layer.send('ev.full', { n: 0 });
      await layer.groupSend('ev.room', { n: 1 });
    });
    expect(events).toContainEqual(expect.objectContaining({ type: 'dropped', group: 'ev.room', count: 1, reason: 'group-full' }));
    expect(total(events, 'dropped')).toBe(layer.stats().dropped);
    await layer.close();
  });

  it("reports drop-oldest evictions with the channel", async () => {
    const layer = await make({ capacity: 2, full: 'drop-oldest' });
    const events = await collect(layer, async () => {
      for (let n = 0; n < 5; n++) await layer.send('ev.ring', { n });
    });
    expect(events.filter((e) => e.type === 'dropped')).toEqual(
      Array.from({ length: 3 }, () => ({ type: 'dropped', channel: 'ev.ring', count: 1, reason: 'drop-oldest' })),
    );
    expect(layer.stats().dropped).toBe(3);
    await layer.close();
  });

  it('reports expired messages with the channel they were found on', async () => {
    const layer = await make({ expiry: 0.2 });
    await layer.send('ev.old', { n: 1 });
    await layer.send('ev.old', { n: 2 });
    await sleep(500);
    const events = await collect(layer, async () => {
      await layer.send('ev.old', { n: 3 }); // a backend may find the old ones here already
      expect(await layer.receive('ev.old', { timeout: 5000 })).toEqual({ n: 3 });
    });
    expect(total(events, 'expired')).toBe(2);
    for (const e of events.filter((e) => e.type === 'expired')) expect([null, 'ev.old']).toContain((e as { channel: string | null }).channel);
    expect(layer.stats().expired).toBe(2);
    await layer.close();
  });

  it('reports expired messages found by tryReceive and receiveMany too', async () => {
    const layer = await make({ expiry: 0.2 });
    const sync = name !== 'redis'; // redis answers nothing synchronously (tryReceive is Unsupported)
    if (sync) {
      await layer.send('ev.try', { n: 1 });
      await layer.send('ev.try', { n: 2 });
    }
    await layer.send('ev.many', { n: 1 });
    await sleep(500);
    const events = await collect(layer, async () => {
      if (sync) expect(layer.tryReceive('ev.try')).toBeUndefined();
      await layer.send('ev.many', { n: 2 }); // a backend may find the old one here already
      expect(await layer.receiveMany('ev.many', { timeout: 5000 })).toEqual([{ n: 2 }]);
    });
    expect(total(events, 'expired')).toBe(sync ? 3 : 1);
    expect(layer.stats().expired).toBe(sync ? 3 : 1);
    await layer.close();
  });

  it('reports a redelivery with its delivery count, and stops after unsubscribing', async () => {
    const layer = await make({ delivery: 'at-least-once', leaseTimeout: 60_000 });
    await layer.send('ev.jobs', { n: 1 });
    const events: LayerEvent[] = [];
    const stop = layer.onEvent((e) => events.push(e));
    const first = await layer.receiveLease('ev.jobs', { timeout: 5000 });
    expect(events).toEqual([]); // a first delivery is not an event
    await first.nack();
    const again = await layer.receiveLease('ev.jobs', { timeout: 5000 });
    expect(again.deliveries).toBe(2);
    expect(events).toEqual([{ type: 'redelivered', channel: 'ev.jobs', deliveries: 2 }]);
    await again.nack();
    stop();
    const third = await layer.receiveLease('ev.jobs', { timeout: 5000 });
    expect(third.deliveries).toBe(3);
    expect(events).toHaveLength(1);
    await third.ack();
    await layer.close();
  });

  it('refuses a listener that is not a function, and a throwing listener does not fail the call', async () => {
    const layer = await make({ capacity: 1, full: 'drop-oldest' });
    expect(() => layer.onEvent('log' as never)).toThrow(/invalid listener for onEvent: string/);
    const thrown: unknown[] = [];
    const onUncaught = (err: unknown) => thrown.push(err);
    process.prependListener('uncaughtException', onUncaught);
    // vitest reports uncaught errors itself: take this one out of its way.
    const listeners = process.listeners('uncaughtException').filter((l) => l !== onUncaught);
    for (const l of listeners) process.off('uncaughtException', l);
    try {
      layer.onEvent(() => {
        throw new Error('listener bug');
      });
      await layer.send('ev.x', { n: 1 });
      await expect(layer.send('ev.x', { n: 2 })).resolves.toBeUndefined();
      await sleep(10);
    } finally {
      process.off('uncaughtException', onUncaught);
      for (const l of listeners) process.on('uncaughtException', l);
    }
    expect(thrown.map((e) => (e as Error).message)).toEqual(['listener bug']);
    await layer.close();
  });
});
