/**
 * Faults of the Redis backend that must be reported exactly: refused credentials at once
 * (not as an unreachable server after operationTimeout), a send whose reply was lost (and
 * its duplicate-free retry), and `stats().depths` after messages this instance popped and
 * discarded as expired.
 */
import { describe, expect, it } from 'vitest';
import { AuthenticationError, ConnectionError, UnconfirmedSend, createLayer } from '../../dist/index.js';
import { redisTestsEnabled, useRedisServer } from './server.js';

const enabled = redisTestsEnabled();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let serial = 0;
const fresh = (base = 'faults') => `${base}.${process.pid}.${serial++}`;
// Longer than any test may take: an error that waited for it would time the test out.
const FOREVER = 3_600_000;

describe.runIf(enabled)('redis faults', () => {
  describe('refused credentials (a real redis-server with requirepass)', () => {
    const secured = useRedisServer(['--requirepass', 'hunter2', '--user', 'alice', 'on', '>wonderland', '~*', '&*', '+@all']);

    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['no password (NOAUTH)', {}, 'NOAUTH'],
      ['a wrong password (WRONGPASS)', { password: 'xyzzy-secret' }, 'WRONGPASS'],
      ['a wrong password in the URL', { url: (p: number) => `redis://:nope@127.0.0.1:${p}` }, 'WRONGPASS'],
      ['an ACL user with a wrong password', { username: 'alice', password: 'looking-glass' }, 'WRONGPASS'],
    ];
    for (const [name, options, refusal] of cases) {
      it(`reports ${name} at once as an AuthenticationError, not after operationTimeout`, async () => {
        const { url, ...rest } = options as { url?: (p: number) => string };
        const err = await createLayer({
          backend: 'redis',
          hosts: [url ? url(secured.server.port) : secured.url],
          operationTimeout: FOREVER,
          ...rest,
        }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AuthenticationError);
        expect(err).toBeInstanceOf(ConnectionError);
        expect(err).toMatchObject({ code: 'ERR_RINGBUS_AUTH', refusal, name: 'AuthenticationError' });
        expect((err as Error).message).toMatch(/refused the credentials/);
        expect((err as Error).message).not.toMatch(/unreachable/);
        for (const secret of ['xyzzy-secret', 'nope', 'looking-glass']) expect((err as Error).message).not.toContain(secret);
      });
    }

    it('still works with the right credentials', async () => {
      const layer = await createLayer({ backend: 'redis', hosts: [secured.url], password: 'hunter2', prefix: fresh('ok') });
      await layer.send('c', { ok: true });
      expect(await layer.receive('c', { timeout: 5000 })).toEqual({ ok: true });
      await layer.close();
    });
  });

  describe('on a plain server', () => {
    const redis = useRedisServer();
    const make = redis.layers(() => ({ prefix: fresh('p') }));

    it('rejects a send whose reply does not come as an UnconfirmedSend; its retry adds no duplicate', async () => {
      const layer = await make({ operationTimeout: 300 });
      const channel = fresh('unconfirmed');
      await layer.send(channel, { warm: true }); // scripts loaded, connections up
      expect(await layer.receive(channel, { timeout: 5000 })).toEqual({ warm: true });
      // Writes wait while the server is paused, and are applied when it resumes: the send
      // times out although the server will apply it.
      await redis.raw.call('CLIENT', 'PAUSE', '1500', 'WRITE');
      const err = await layer.send(channel, { n: 1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnconfirmedSend);
      expect(err).toMatchObject({ code: 'ERR_RINGBUS_CONNECTION', channel });
      expect((err as Error).message).toMatch(/may or may not have been applied/);
      while ((await redis.raw.zcard(`${(layer as unknown as { options: { prefix: string } }).options.prefix}${channel}`)) === 0) await sleep(50);
      await (err as UnconfirmedSend).retry(); // the first attempt was applied: nothing is added
      expect(await layer.receive(channel, { timeout: 5000 })).toEqual({ n: 1 });
      await expect(layer.receive(channel, { timeout: 200 })).rejects.toMatchObject({ code: 'ERR_RINGBUS_TIMEOUT' });
    });

    it('a retry of a send that was not applied sends it', async () => {
      const layer = await make({ operationTimeout: 300 });
      const channel = fresh('unapplied');
      await layer.send(channel, { warm: true });
      await layer.receive(channel, { timeout: 5000 });
      await redis.raw.call('CLIENT', 'PAUSE', '1500', 'WRITE');
      const err = (await layer.send(channel, { n: 2 }).catch((e: unknown) => e)) as UnconfirmedSend;
      expect(err).toBeInstanceOf(UnconfirmedSend);
      // The paused command is applied later; remove it as soon as it lands (as if lost).
      const key = `${(layer as unknown as { options: { prefix: string } }).options.prefix}${channel}`;
      while ((await redis.raw.zcard(key)) === 0) await sleep(50);
      await redis.raw.del(key);
      await err.retry();
      expect(await layer.receive(channel, { timeout: 5000 })).toEqual({ n: 2 });
    });

    it('accepts a receive timeout and a leaseTimeout of 2^31 ms or more (no timer overflow)', async () => {
      const layer = await make({ delivery: 'at-least-once', leaseTimeout: 2 ** 31 });
      const channel = fresh('long');
      let settled = false;
      const got = layer.receive(channel, { timeout: 2 ** 31 }).finally(() => (settled = true));
      await sleep(150);
      expect(settled).toBe(false);
      await layer.send(channel, { n: 1 });
      expect(await got).toEqual({ n: 1 });
      await layer.send(channel, { n: 2 });
      const lease = await layer.receiveLease(channel, { timeout: 5000 });
      await sleep(150);
      await expect(layer.receiveLease(channel, { timeout: 100 })).rejects.toMatchObject({ code: 'ERR_RINGBUS_TIMEOUT' });
      expect(await lease.ack()).toBe(true);
    });

    for (const how of ['receive with a timeout', 'receive with timeout 0', 'receiveLease', 'a ! channel'] as const) {
      it(`does not count in depths a message it popped and discarded as expired (${how})`, async () => {
        const layer = await make({ expiry: 0.1, delivery: how === 'receiveLease' ? 'at-least-once' : 'at-most-once' });
        const channel = how === 'a ! channel' ? await layer.newChannel() : fresh('expired');
        await layer.send(channel, { stale: true });
        expect(layer.stats().depths).toEqual({ [channel]: 1 });
        await sleep(300);
        const timeout = how === 'receive with timeout 0' ? 0 : 300;
        const receive = how === 'receiveLease' ? layer.receiveLease(channel, { timeout }) : layer.receive(channel, { timeout });
        await expect(receive).rejects.toMatchObject({ code: 'ERR_RINGBUS_TIMEOUT' });
        const stats = layer.stats();
        expect(stats.expired).toBe(1);
        expect(stats.depths).toEqual({});
        // And the next message is counted again.
        await layer.send(channel, { fresh: true });
        expect(layer.stats().depths).toEqual({ [channel]: 1 });
      });
    }
  });
});
