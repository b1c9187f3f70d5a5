/**
 * A Redis layer's own process-specific channels: what it sends to them itself (directly or
 * as a group member) goes straight to the local receiver, never through Redis, in order,
 * within the channel's capacity; members elsewhere still get group messages through Redis.
 */
import { describe, expect, it } from 'vitest';
import { ChannelFull } from '../../dist/index.js';
import { redisTestsEnabled, uniquePrefix, useRedisServer } from './server.js';

const enabled = redisTestsEnabled();

describe.runIf(enabled)("redis layer: its own channels", () => {
  const redis = useRedisServer();
  const make = redis.layers();
  let serial = 0;

  for (const ring of [false, true]) {
    it(`keeps self-sends and own group members out of Redis, in order${ring ? ' (two-step group path)' : ''}`, async () => {
      const prefix = uniquePrefix('own');
      // channelCapacity forces the group send's two-step path (members read, then stored per shard).
      const extra = ring ? { channelCapacity: { 'nothing.*': 5 } } : {};
      const a = await make({ prefix, capacity: 3, ...extra });
      const b = await make({ prefix, capacity: 3, ...extra });
      const [a1, a2] = [await a.newChannel(), await a.newChannel()];
      const b1 = await b.newChannel();
      await a.send(a1, { n: 1 });
      await a.send(a1, { n: 2 });
      for (const ch of [a1, a2, b1]) await (ch === b1 ? b : a).groupAdd('room', ch);
      await a.groupSend('room', { n: 3 });
      expect(await redis.raw.exists(`${prefix}${a1.slice(0, a1.indexOf('!') + 1)}`)).toBe(0);
      expect(await redis.raw.zcard(`${prefix}${b1.slice(0, b1.indexOf('!') + 1)}`)).toBe(1);
      // a1 holds 3 now (its capacity): one more is refused.
      await expect(a.send(a1, { n: 4 })).rejects.toBeInstanceOf(ChannelFull);
      expect([await a.receive(a1), await a.receive(a1), await a.receive(a1)]).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
      expect(await a.receive(a2)).toEqual({ n: 3 });
      expect(await b.receive(b1, { timeout: 5000 })).toEqual({ n: 3 });
      await expect(a.receive(a1, { timeout: 100 })).rejects.toThrow();
      await expect(a.receive(a2, { timeout: 100 })).rejects.toThrow();
      // A group message that finds an own member full misses it there, and is counted.
      for (let i = 0; i < 3; i++) await a.send(a2, { fill: i });
      const dropped = a.stats().dropped;
      await a.groupSend('room', { n: 5 });
      expect(a.stats().dropped).toBe(dropped + 1);
      expect(await a.receive(a1)).toEqual({ n: 5 });
      expect(await b.receive(b1, { timeout: 5000 })).toEqual({ n: 5 });
    });
  }

  it('groups a group send by owner part: own members of several prefixes stay local, one stored message per other key', async () => {
    const prefix = uniquePrefix('own');
    const a = await make({ prefix });
    const b = await make({ prefix });
    const mine = [await a.newChannel(), await a.newChannel('conn'), await a.newChannel(), await a.newChannel('conn')];
    const theirs = [await b.newChannel('conn'), await b.newChannel('conn'), await b.newChannel()];
    const plain = `plain.${serial++}`;
    for (const ch of [...mine, ...theirs]) await (mine.includes(ch) ? a : b).groupAdd('mixed', ch);
    await a.groupAdd('mixed', plain);
    await a.groupSend('mixed', { n: 1 });
    const keyOf = (ch: string) => `${prefix}${ch.slice(0, ch.indexOf('!') + 1)}`;
    for (const ch of mine) expect(await redis.raw.exists(keyOf(ch))).toBe(0);
    expect(await redis.raw.zcard(keyOf(theirs[0]!))).toBe(1); // both 'conn' members of b share one stored message
    expect(await redis.raw.zcard(keyOf(theirs[2]!))).toBe(1);
    expect(await redis.raw.zcard(`${prefix}${plain}`)).toBe(1);
    for (const ch of mine) expect(await a.receive(ch, { timeout: 1000 })).toEqual({ n: 1 });
    for (const ch of theirs) expect(await b.receive(ch, { timeout: 5000 })).toEqual({ n: 1 });
    expect(await a.receive(plain, { timeout: 1000 })).toEqual({ n: 1 });
    for (const ch of mine) await expect(a.receive(ch, { timeout: 50 })).rejects.toThrow();
    for (const ch of theirs) await expect(b.receive(ch, { timeout: 50 })).rejects.toThrow();
  });
});
