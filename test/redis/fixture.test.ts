/**
 * The test helpers of server.ts themselves: useRedisServer starts its server for the tests of
 * the block that called it only, its layers and raw client reach that server, and its afterAll
 * closes those layers and stops the server; useRedisSentinel's host reaches the master.
 */
import { describe, expect, it } from 'vitest';
import { createLayer, type ChannelLayer } from '../../dist/index.js';
import { canConnect, redisTestsEnabled, uniquePrefix, useRedisSentinel, useRedisServer, type RedisServerFixture } from './server.js';

const enabled = redisTestsEnabled();

describe.runIf(enabled)('useRedisServer', () => {
  let fixture: RedisServerFixture;
  let beforeStart: unknown;
  let made: ChannelLayer;
  let port = 0;

  describe('a block with a server', () => {
    fixture = useRedisServer();
    const make = fixture.layers(() => ({ prefix: uniquePrefix('fixture') }));
    try {
      void fixture.url; // at collection time, before the beforeAll
    } catch (err) {
      beforeStart = err;
    }

    it('refuses the server before its beforeAll, with an error that says when it runs', () => {
      expect(beforeStart).toBeInstanceOf(Error);
      expect((beforeStart as Error).message).toMatch(/useRedisServer: the server runs only from the beforeAll to the afterAll/);
    });

    it('makes layers on its server, with the defaults and the options given, which the raw client sees', async () => {
      port = fixture.server.port;
      expect(fixture.url).toBe(`redis://127.0.0.1:${port}`);
      made = await make({ capacity: 2 });
      const prefix = (made as unknown as { options: { prefix: string } }).options.prefix;
      expect(prefix).toMatch(new RegExp(`^fixture${process.pid}x\\d+:$`));
      await made.send('seen', { n: 1 });
      expect(await fixture.raw.zcard(`${prefix}seen`)).toBe(1);
      await made.send('seen', { n: 2 });
      await expect(made.send('seen', { n: 3 })).rejects.toMatchObject({ code: 'ERR_RINGBUS_CHANNEL_FULL' }); // capacity: 2 applied
    });
  });

  it('closed its layers and stopped its server after the block', async () => {
    expect(port).toBeGreaterThan(0);
    await expect(made.send('seen', { n: 4 })).rejects.toMatchObject({ code: 'ERR_RINGBUS_LAYER_CLOSED' });
    expect(await canConnect(port)).toBe(false);
    expect(() => fixture.server).toThrow(/useRedisServer/);
  });
});

describe.runIf(enabled)('useRedisSentinel', () => {
  const redis = useRedisSentinel();

  it('names the master through its Sentinel', async () => {
    const prefix = uniquePrefix('fixture-sentinel');
    const layer = await createLayer({ backend: 'redis', hosts: [redis.host], prefix });
    try {
      await layer.send('via', { sentinel: true });
      expect(await redis.master.raw.zcard(`${prefix}via`)).toBe(1);
      expect(await layer.receive('via', { timeout: 5000 })).toEqual({ sentinel: true });
    } finally {
      await layer.close();
    }
  });
});
