/**
 * What the Redis layer promises beyond the conformance suite: its options, credentials,
 * the keys it writes, the cost of a group send, and exactly-once hand-over under
 * concurrency and cancellation.
 */
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { AuthenticationError, ConnectionError, createLayer, TimeoutError } from '../../dist/index.js';
import { makeMember } from '../../dist/redis/wire.js';
import { encode } from '../../dist/index.js';
import { redisTestsEnabled, useRedisServer } from './server.js';

const enabled = redisTestsEnabled();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let serial = 0;
const fresh = (base = 'layer') => `${base}.${process.pid}.${serial++}`;

describe.runIf(enabled)('redis layer', () => {
  const redis = useRedisServer();
  const make = redis.layers();

  describe('options', () => {
    it('rejects bad values with a TypeError naming the option', async () => {
      const bad: Array<[Record<string, unknown>, string]> = [
        [{ hosts: [] }, 'hosts'],
        [{ hosts: 'redis://x' }, 'hosts'],
        [{ hosts: ['http://127.0.0.1'] }, 'hosts[0]'],
        [{ hosts: ['not a url'] }, 'hosts[0]'],
        [{ hosts: [{ port: 70000 }] }, 'hosts[0].port'],
        [{ hosts: [{ sentinels: [], name: 'm' }] }, 'hosts[0]'],
        [{ prefix: '' }, 'prefix'],
        [{ prefix: 7 }, 'prefix'],
        [{ symmetricEncryptionKeys: 'one' }, 'symmetricEncryptionKeys'],
        [{ symmetricEncryptionKeys: [''] }, 'symmetricEncryptionKeys[0]'],
        [{ operationTimeout: 0 }, 'operationTimeout'],
        [{ maxMessageSize: 1.5 }, 'maxMessageSize'],
        [{ capacity: -1 }, 'capacity'],
        [{ redisOptions: { keyPrefix: 'x' } }, 'redisOptions.keyPrefix'],
        [{ hosts: [{ port: 6379, keyPrefix: 'x' }] }, 'hosts[0].keyPrefix'],
      ];
      for (const [options, name] of bad) {
        const err = await createLayer({ backend: 'redis', ...options } as never).catch((e: unknown) => e);
        expect(err, JSON.stringify(options)).toBeInstanceOf(TypeError);
        expect((err as Error).message).toContain(name);
      }
    });

    it('leases plain channels only: receiveLease on a ! channel is Unsupported', async () => {
      const layer = await make({ delivery: 'at-least-once', prefix: fresh('lease') });
      expect(layer.extensions).toContain('leases');
      const err = await layer.receiveLease(await layer.newChannel()).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('ERR_RINGBUS_UNSUPPORTED');
    });
  });

  describe('credentials', () => {
    const secured = useRedisServer([
      '--requirepass', 'hunter2',
      '--user', 'alice', 'on', '>wonderland', '~*', '&*', '+@all',
      '--user', 'carol', 'on', '>lewis', '~*', '&*', '+@all', '-client',
    ]);
    const makeSecured = secured.layers();

    it('authenticates with a password option, a URL password, and an ACL user', async () => {
      for (const options of [
        { hosts: [secured.url], password: 'hunter2' },
        { hosts: [`redis://:hunter2@127.0.0.1:${secured.server.port}`] },
        { hosts: [`redis://alice:wonderland@127.0.0.1:${secured.server.port}`] },
        { hosts: [{ host: '127.0.0.1', port: secured.server.port, username: 'alice', password: 'wonderland' }] },
      ]) {
        const layer = await makeSecured({ ...options, prefix: fresh('auth') });
        const ch = fresh();
        await layer.send(ch, { ok: true });
        expect(await layer.receive(ch)).toEqual({ ok: true });
      }
    });

    it('works for an ACL user without the CLIENT command (pops end by their timeout instead of CLIENT UNBLOCK)', async () => {
      const layer = await makeSecured({ hosts: [`redis://carol:lewis@127.0.0.1:${secured.server.port}`], prefix: fresh('carol') });
      const ch = fresh();
      await expect(layer.receive(ch, { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
      await layer.send(ch, { kept: true }); // may be popped by the abandoned pop, then put back
      expect(await layer.receive(ch, { timeout: 5000 })).toEqual({ kept: true });
    });

    it('fails createLayer with an AuthenticationError (a ConnectionError) carrying the server refusal for a wrong password', async () => {
      const err = await createLayer({ backend: 'redis', hosts: [secured.url], password: 'wrong', operationTimeout: 500 }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectionError);
      expect(err).toBeInstanceOf(AuthenticationError);
      expect((err as Error).message).toMatch(/WRONGPASS|invalid password|NOAUTH/i);
      expect((err as Error).message).not.toContain('wrong'); // the password is not echoed
      expect((err as Error).message).not.toMatch(/:wrong@/);
    });
  });

  describe('a server without BZMPOP (Redis < 7)', () => {
    const old = useRedisServer(['--rename-command', 'BZMPOP', '']);

    it('falls back to BZPOPMIN / BZPOPMAX, one message per pop', async () => {
      const layer = await old.layers()({ channelOrder: { 'stack.*': 'lifo' } });
      const [plain, stack, mine] = [fresh(), fresh('stack'), await layer.newChannel()];
      const pending = layer.receive(plain);
      await sleep(20);
      await layer.send(plain, { n: 0 });
      expect(await pending).toEqual({ n: 0 });
      for (let i = 0; i < 3; i++) {
        await layer.send(stack, { i });
        await layer.send(mine, { i });
      }
      for (const i of [2, 1, 0]) expect(await layer.receive(stack, { timeout: 5000 })).toEqual({ i });
      for (const i of [0, 1, 2]) expect(await layer.receive(mine, { timeout: 5000 })).toEqual({ i });
    });
  });

  describe('keys on the server', () => {
    it('writes channels_redis key names with TTLs, and no $inflight keys', async () => {
      const prefix = `keys${process.pid}`;
      const layer = await make({ prefix });
      const other = await make({ prefix }); // a layer's sends to its own channels stay in the process
      const plain = fresh();
      const mine = await layer.newChannel();
      const group = fresh('g');
      await layer.send(plain, { a: 1 });
      await other.send(mine, { a: 2 });
      await layer.groupAdd(group, mine);
      const owner = mine.slice(0, mine.indexOf('!') + 1);
      expect((await redis.raw.keys(`${prefix}*`)).sort()).toEqual([`${prefix}${owner}`, `${prefix}${plain}`, `${prefix}:group:${group}`].sort());
      for (const key of await redis.raw.keys(`${prefix}*`)) expect(await redis.raw.pttl(key)).toBeGreaterThan(0);
      expect(await redis.raw.zscore(`${prefix}:group:${group}`, mine)).not.toBeNull();
      await layer.receive(plain);
      await layer.receive(mine);
      expect(await redis.raw.keys('*$inflight')).toEqual([]);
    });

    it('never delivers a stale message, even one whose key never expired (written by a peer with a skewed clock)', async () => {
      const prefix = `stale${process.pid}:`;
      const layer = await make({ prefix, expiry: 60 });
      const ch = fresh();
      const member = makeMember(encode({ stale: true }), null);
      await redis.raw.zadd(`${prefix}${ch}`, Date.now() / 1000 - 3600, member);
      const before = layer.stats().expired;
      await expect(layer.receive(ch, { timeout: 300 })).rejects.toBeInstanceOf(TimeoutError);
      expect(layer.stats().expired).toBe(before + 1);
      expect(await redis.raw.zcard(`${prefix}${ch}`)).toBe(0);
    });

    it('sends to a group of 100 in one script call on one server, two on a layer that needs the general path', async () => {
      const prefix = fresh('cost');
      const fast = await make({ prefix });
      const general = await make({ prefix, channelCapacity: { 'nothing.matches.*': 5 } });
      const group = fresh('g');
      const members = Array.from({ length: 100 }, (_, i) => `cost.member.${i}`);
      for (const m of members) await fast.groupAdd(group, m);
      await fast.groupSend(group, { warm: true }); // loads the scripts
      await general.groupSend(group, { warm: true });
      const evalshaCalls = async () => Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(await redis.raw.info('commandstats'))?.[1] ?? 0);
      // commandstats also counts the commands run inside scripts; count what the client sent.
      await redis.raw.config('RESETSTAT');
      await fast.groupSend(group, { n: 1 });
      expect(await evalshaCalls()).toBe(1);
      await redis.raw.config('RESETSTAT');
      await general.groupSend(group, { n: 2 });
      expect(await evalshaCalls()).toBe(2);
      for (const m of members.slice(0, 5)) {
        expect(await fast.receive(m, { timeout: 0 })).toEqual({ warm: true });
        expect(await fast.receive(m, { timeout: 0 })).toEqual({ warm: true });
        expect(await fast.receive(m, { timeout: 0 })).toEqual({ n: 1 });
        expect(await fast.receive(m, { timeout: 0 })).toEqual({ n: 2 });
      }
    });

    it('writes the commands issued in one turn of the event loop in one socket write, and each later turn in its own', async () => {
      const layer = await make({ prefix: fresh('batch') });
      const ch = fresh('batched');
      await layer.send(ch, { warm: true }); // the scripts are loaded, the connection is ready
      // The command connection's socket (private: the test looks under the hood on purpose).
      const socket = (layer as unknown as { servers: Array<{ client: { stream: Record<string, unknown> } }> }).servers[0]!.client.stream;
      let writes = 0;
      for (const name of ['_write', '_writev']) {
        const original = socket[name] as (...a: unknown[]) => unknown;
        socket[name] = function (this: unknown, ...args: unknown[]) {
          writes++;
          return original.apply(this, args);
        };
      }
      await Promise.all(Array.from({ length: 20 }, (_, n) => layer.send(ch, { n })));
      expect(writes).toBe(1);
      writes = 0;
      for (let n = 20; n < 23; n++) await layer.send(ch, { n });
      expect(writes).toBe(3);
      const got = await layer.receiveMany(ch, { max: 30, timeout: 0 });
      expect(got.map((m) => m.n)).toEqual([undefined, ...Array.from({ length: 23 }, (_, n) => n)]);
    });

    it('stores the same bytes from the one-call group send as from the general path', async () => {
      const prefix = fresh('bytes');
      const fast = await make({ prefix });
      const general = await make({ prefix, channelCapacity: [[/^nothing$/, 5]] });
      const owner = await make({ prefix });
      const group = fresh('g');
      // A plain member, and 20 `!` members of one owner sharing one key (an array16 list).
      const mine = await Promise.all(Array.from({ length: 20 }, () => owner.newChannel('x'.repeat(40))));
      for (const ch of [fresh('plain'), ...mine]) await fast.groupAdd(group, ch);
      const message = { type: 'chat.message', text: 'ü'.repeat(40), n: 2n ** 60n, list: Array.from({ length: 20 }, (_, i) => i) };
      await fast.groupSend(group, message);
      await general.groupSend(group, message);
      const keys = (await redis.raw.keys(`${prefix}*`)).filter((k) => !k.includes(':group:'));
      expect(keys.length).toBe(2);
      for (const key of keys) {
        const stored = await redis.raw.zrangeBuffer(key, 0, -1);
        expect(stored.length).toBe(2);
        expect(stored[0]!.subarray(12).equals(stored[1]!.subarray(12))).toBe(true);
      }
      for (const ch of mine.slice(0, 3)) {
        expect(await owner.receive(ch, { timeout: 5000 })).toEqual(message);
        expect(await owner.receive(ch, { timeout: 5000 })).toEqual(message);
      }
    });
  });

  describe('leases (at-least-once)', () => {
    it("gives a dead holder's message to another process after leaseTimeout", async () => {
      const prefix = fresh('dead');
      const holder = await createLayer({ backend: 'redis', hosts: [redis.url], prefix, delivery: 'at-least-once', leaseTimeout: 200 });
      const other = await make({ prefix, delivery: 'at-least-once', leaseTimeout: 200 });
      const ch = fresh();
      await other.send(ch, { job: 1 });
      const first = await holder.receiveLease(ch);
      expect(first.deliveries).toBe(1);
      await holder.close(); // dies without settling
      const again = await other.receiveLease(ch, { timeout: 5000 });
      expect(again.message).toEqual({ job: 1 });
      expect(again.deliveries).toBe(2);
      expect(await again.ack()).toBe(true);
      expect(await redis.raw.exists(`${prefix}${ch}$ringbus-leases`, `${prefix}${ch}$ringbus-lease-meta`)).toBe(0);
    });

    it('leases each message to one holder at a time, across layers', async () => {
      const prefix = fresh('leases');
      const takers = await Promise.all([1, 2, 3].map(() => make({ prefix, delivery: 'at-least-once', capacity: 1000 })));
      const ch = fresh();
      const total = 150;
      for (let i = 0; i < total; i++) await takers[0]!.send(ch, { i });
      const got: number[] = [];
      await Promise.all(
        takers.flatMap((t) =>
          [1, 2].map(async () => {
            for (;;) {
              let lease;
              try {
                lease = await t.receiveLease(ch, { timeout: 300 });
              } catch (err) {
                if (err instanceof TimeoutError) return;
                throw err;
              }
              got.push(lease.message.i as number);
              expect(await lease.ack()).toBe(true);
            }
          }),
        ),
      );
      expect(got.length).toBe(total);
      expect(new Set(got).size).toBe(total);
    });
  });

  describe('a ring of two servers', () => {
    const second = useRedisServer();

    it('spreads plain channels over both servers, reads both, and leases from both', async () => {
      const prefix = fresh('ring');
      const hosts = [redis.url, second.url];
      const layer = await make({ hosts, prefix, delivery: 'at-least-once' });
      const peer = await make({ hosts, prefix });
      const ch = fresh();
      for (let i = 0; i < 6; i++) await peer.send(ch, { i });
      const direct = [redis.raw, new Redis(second.url)];
      try {
        expect(await direct[0]!.zcard(`${prefix}${ch}`)).toBe(3);
        expect(await direct[1]!.zcard(`${prefix}${ch}`)).toBe(3);
      } finally {
        direct[1]!.disconnect();
      }
      const got: number[] = [];
      for (let i = 0; i < 3; i++) got.push((await layer.receive(ch, { timeout: 5000 })).i as number);
      for (let i = 0; i < 3; i++) {
        const lease = await layer.receiveLease(ch, { timeout: 5000 });
        got.push(lease.message.i as number);
        expect(await lease.ack()).toBe(true);
      }
      expect(got.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    });

    it('sends to a group whose members live on both servers (one call per shard)', async () => {
      const prefix = fresh('ringgroup');
      const hosts = [redis.url, second.url];
      const layer = await make({ hosts, prefix, capacity: 1 });
      const group = fresh('g');
      const mine = await Promise.all([1, 2, 3].map(() => layer.newChannel()));
      const plain = Array.from({ length: 6 }, (_, i) => fresh(`p${i}`));
      for (const ch of [...mine, ...plain]) await layer.groupAdd(group, ch);
      // Capacity is checked per member key on its shard: the second send finds every key full
      // (the three `!` members share one key, so one stored message fills it).
      const before = layer.stats();
      await layer.groupSend(group, { n: 1 });
      await layer.groupSend(group, { n: 2 });
      const after = layer.stats();
      expect(after.sent - before.sent).toBe(9);
      expect(after.dropped - before.dropped).toBe(9);
      for (const ch of [...mine, ...plain]) expect(await layer.receive(ch, { timeout: 5000 })).toEqual({ n: 1 });
      await expect(layer.receive(plain[0]!, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
      await layer.flush();
      expect(await redis.raw.keys(`${prefix}*`)).toEqual([]);
    });
  });

  describe('hand-over', () => {
    it('gives every message to exactly one of many concurrent receivers in several layers', async () => {
      const prefix = fresh('many');
      const receivers = await Promise.all([make({ prefix }), make({ prefix }), make({ prefix })]);
      const senders = await Promise.all([make({ prefix, capacity: 1000 }), make({ prefix, capacity: 1000 })]);
      const ch = fresh();
      const total = 400;
      const got: number[] = [];
      const pending: Array<Promise<void>> = [];
      for (const r of receivers) {
        for (let k = 0; k < 4; k++) {
          pending.push(
            (async () => {
              for (;;) {
                try {
                  got.push((await r.receive(ch, { timeout: 1500 })).i as number);
                } catch (err) {
                  if (err instanceof TimeoutError) return;
                  throw err;
                }
              }
            })(),
          );
        }
      }
      await Promise.all(
        senders.map(async (s, j) => {
          for (let i = j; i < total; i += senders.length) await s.send(ch, { i });
        }),
      );
      await Promise.all(pending);
      expect(got.length).toBe(total);
      expect(new Set(got).size).toBe(total);
    });

    it('loses nothing when impatient receivers keep giving up while messages arrive', async () => {
      const prefix = fresh('race');
      const [receiver, sender] = await Promise.all([make({ prefix }), make({ prefix, capacity: 1000 })]);
      const ch = fresh();
      const total = 300;
      const got: number[] = [];
      let done = false;
      // Four impatient receivers with timeouts of 1-2 ms, while batches of sends land: some
      // pops reach Redis just as their receiver gives up.
      const impatient = Array.from({ length: 4 }, async (_, k) => {
        while (!done) {
          try {
            got.push((await receiver.receive(ch, { timeout: 1 + ((got.length + k) % 2) })).i as number);
          } catch (err) {
            if (!(err instanceof TimeoutError)) throw err;
          }
        }
      });
      for (let i = 0; i < total; i += 10) {
        await Promise.all(Array.from({ length: 10 }, (_, j) => sender.send(ch, { i: i + j })));
        await sleep(1 + (i % 3));
      }
      while (got.length < total) {
        const before = got.length;
        await sleep(300);
        if (got.length === before) break;
      }
      done = true;
      await Promise.all(impatient);
      for (;;) {
        try {
          got.push((await receiver.receive(ch, { timeout: 1000 })).i as number);
        } catch {
          break;
        }
      }
      expect(new Set(got).size).toBe(got.length);
      expect(got.length).toBe(total);
    });

    it('puts a message back at its place when it was popped after its receiver left', async () => {
      // The window (a pop answered between a receiver's timeout and the CLIENT UNBLOCK that
      // follows it) is too narrow to hit on purpose, so the reader's hand-over is called the
      // way the reader calls it once that happens.
      const prefix = fresh('unpop');
      const layer = await make({ prefix });
      const ch = fresh();
      await layer.send(ch, { i: 1 });
      const member = makeMember(encode({ i: 0 }), null);
      const score = Date.now() / 1000 - 1; // older than i: 1, so first in line again
      (layer as unknown as { deliverPlain(i: number, c: string, m: Buffer, s: number): void }).deliverPlain(0, ch, member, score);
      for (let k = 0; k < 50 && (await redis.raw.zcard(`${prefix}${ch}`)) < 2; k++) await sleep(10);
      expect(Number(await redis.raw.zscore(`${prefix}${ch}`, member))).toBeCloseTo(score, 3);
      expect(await layer.receive(ch)).toEqual({ i: 0 });
      expect(await layer.receive(ch)).toEqual({ i: 1 });
    });

    it('buffers messages for a local process-specific channel nobody is receiving yet', async () => {
      const layer = await make({ prefix: fresh('buf') });
      const peer = await make({ prefix: (layer as unknown as { options: { prefix: string } }).options.prefix });
      const [a, b] = [await layer.newChannel(), await layer.newChannel()];
      await peer.send(b, { to: 'b' });
      await peer.send(a, { to: 'a' });
      // Receiving on a pops b's message too (one key per owner); it waits here for b.
      expect(await layer.receive(a, { timeout: 5000 })).toEqual({ to: 'a' });
      expect(layer.stats().depths[b]).toBe(1);
      expect(await layer.receive(b, { timeout: 0 })).toEqual({ to: 'b' });
    });
  });
});
