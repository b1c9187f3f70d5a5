/**
 * The hybrid backend's own rules: the options it refuses, ownership of its process-specific
 * channels, where its channels live, and createPool on a hybrid bus.
 */
import { describe, expect, it } from 'vitest';
import { attachLayer, ChannelFull, createLayer, NotOwner, Unsupported, type HybridLayer } from '../../dist/index.js';
import { createPool } from '../../dist/pool.js';
import { redisTestsEnabled, uniquePrefix, useRedisServer } from '../redis/server.js';

const enabled = redisTestsEnabled();

describe.runIf(enabled)('hybrid layer', () => {
  const redis = useRedisServer();
  const make = redis.layers(() => ({ backend: 'hybrid', prefix: uniquePrefix('hybl'), memory: 8 * 1024 * 1024 }));

  it('refuses knobs that cannot hold across machines, and unknown options, at createLayer', async () => {
    await expect(make({ full: 'drop-oldest' })).rejects.toBeInstanceOf(Unsupported);
    await expect(make({ full: 'wait' })).rejects.toThrow(/process-specific channels use full: 'reject'/);
    await expect(make({ full: 'sometimes' })).rejects.toBeInstanceOf(TypeError);
    await expect(make({ colour: 'blue' })).rejects.toThrow(/unknown option "colour"/);
    await expect(make({ localChannels: 'jobs.*' })).rejects.toThrow(TypeError);
  });

  it("refuses a non-'reject' channelFull on a process-specific channel at its send, and applies it to plain channels", async () => {
    const layer = await make({ channelFull: { '*': 'drop-oldest' }, capacity: 1, localChannels: ['local.*'] });
    try {
      const me = await layer.newChannel();
      await expect(layer.send(me, { a: 1 })).rejects.toBeInstanceOf(Unsupported);
      await layer.send('local.x', { n: 1 });
      await layer.send('local.x', { n: 2 });
      expect(await layer.receive('local.x')).toEqual({ n: 2 });
    } finally {
      await layer.close();
    }
  });

  it("gives each attached instance its own process-specific channels on the machine's bus", async () => {
    const layer = (await make()) as HybridLayer;
    const other = attachLayer(layer.handle);
    try {
      const mine = await layer.newChannel();
      const theirs = await other.newChannel();
      expect(ownerOf(mine)).toBe(ownerOf(theirs));
      expect(ownerOf(mine)).toBe(`specific.${layer.bus}!`);
      await expect(layer.receive(theirs)).rejects.toBeInstanceOf(NotOwner);
      await layer.send(theirs, { hello: 'other' });
      expect(await other.receive(theirs)).toEqual({ hello: 'other' });
    } finally {
      await other.close();
      await layer.close();
    }
  });

  it('keeps localChannels on the machine and puts other plain channels in Redis', async () => {
    const prefix = uniquePrefix('hybl');
    const layer = await make({ prefix, localChannels: ['local.*', /^mine\./] });
    try {
      await layer.send('local.a', { n: 1 });
      await layer.send('mine.b', { n: 2 });
      await layer.send('shared.c', { n: 3 });
      expect(await redis.raw.exists(`${prefix}local.a`, `${prefix}mine.b`)).toBe(0);
      expect(await redis.raw.zcard(`${prefix}shared.c`)).toBe(1);
      expect(await layer.receive('local.a')).toEqual({ n: 1 });
      expect(await layer.receive('mine.b')).toEqual({ n: 2 });
      expect(await layer.receive('shared.c')).toEqual({ n: 3 });
    } finally {
      await layer.close();
    }
  });

  it("counts what arrives from another machine for a full local channel as dropped, and keeps the rest", async () => {
    const prefix = uniquePrefix('hybl');
    const [a, b] = [await make({ prefix, capacity: 3 }), await make({ prefix, capacity: 3 })];
    try {
      const mine = await a.newChannel();
      const events: Array<{ type: string; channel: string | null; reason?: string; count: number }> = [];
      const stop = a.onEvent((e) => events.push(e as (typeof events)[number]));
      let sent = 0;
      while (sent < 6) {
        try {
          await b.send(mine, { n: sent });
          sent++;
        } catch (err) {
          // the bus key in Redis holds 3 until a's router has popped them
          if (!(err instanceof ChannelFull)) throw err;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
      for (let i = 0; i < 500 && a.stats().dropped < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(a.stats().dropped).toBe(3);
      expect(events).toEqual([1, 2, 3].map(() => ({ type: 'dropped', channel: mine, count: 1, reason: 'arrival-full' })));
      stop();
      expect([await a.receive(mine), await a.receive(mine), await a.receive(mine)]).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
      await expect(a.receive(mine, { timeout: 100 })).rejects.toThrow();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('joins two machines with encrypted messages (symmetricEncryptionKeys), direct and through a group', async () => {
    const prefix = uniquePrefix('hybl');
    const options = { prefix, symmetricEncryptionKeys: ['a secret'] };
    const [a, b] = [await make(options), await make(options)];
    try {
      const [ca, cb] = [await a.newChannel(), await b.newChannel()];
      await b.send(ca, { secret: 1 });
      expect(await a.receive(ca, { timeout: 5000 })).toEqual({ secret: 1 });
      const owner = ca.slice(0, ca.indexOf('!') + 1);
      await a.groupAdd('vault', ca);
      await b.groupAdd('vault', cb);
      await a.groupSend('vault', { secret: 2 });
      expect(await a.receive(ca, { timeout: 5000 })).toEqual({ secret: 2 });
      expect(await b.receive(cb, { timeout: 5000 })).toEqual({ secret: 2 });
      expect(await redis.raw.exists(`${prefix}${owner}`)).toBe(0); // a's own member got it without Redis
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('runs a piscina pool whose workers attach to the hybrid bus', async () => {
    const layer = (await make()) as HybridLayer;
    const pool = createPool(layer, { filename: new URL('./pool-task.js', import.meta.url).href, maxThreads: 2, minThreads: 1 });
    try {
      const reply = await layer.newChannel();
      const task = pool.run({ op: 'relay', channel: 'pool.requests', reply });
      await layer.send('pool.requests', { ask: 1 });
      expect(await task).toBe('ok');
      expect(await layer.receive(reply, { timeout: 20_000 })).toEqual({ relayed: { ask: 1 }, hybrid: 'HybridLayer' });
    } finally {
      await pool.destroy();
      await layer.close();
    }
  }, 60_000);
});

function ownerOf(channel: string): string {
  return channel.slice(0, channel.indexOf('!') + 1);
}
