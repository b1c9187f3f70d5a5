/**
 * The hybrid backend against real redis-server set-ups: local traffic that never touches
 * Redis (counted with INFO commandstats), Redis Sentinel, and a ring of two servers with a
 * Python channels_redis peer.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createLayer, type HybridLayer } from '../../dist/index.js';
import { PythonPeer } from '../redis/python.js';
import { redisTestsEnabled, useRedisSentinel, useRedisServer } from '../redis/server.js';

const enabled = redisTestsEnabled(true);
let serial = 0;
const fresh = () => `hybs${process.pid}x${serial++}:`;

/** Calls per command since the server started, from INFO commandstats. */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1] as string, Number(match[2]));
  return calls;
}

function runWorker(workerData: Record<string, unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./local-sender.js', import.meta.url), { workerData });
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
  });
}

describe.runIf(enabled)('hybrid backend on real Redis set-ups', () => {
  describe('local traffic', () => {
    const redis = useRedisServer();

    it('sends 10 000 messages between threads of one machine without a Redis command', async () => {
      const layer = (await createLayer({
        backend: 'hybrid',
        hosts: [redis.url],
        prefix: fresh(),
        capacity: 20_000,
        memory: 16 * 1024 * 1024,
        localChannels: ['pipeline.*'],
      })) as HybridLayer;
      try {
        const me = await layer.newChannel();
        await layer.groupAdd('pipeline.fans', 'pipeline.fan');
        await expect(layer.groupAdd('pipeline.fans', 'elsewhere')).rejects.toThrow(/localChannels/);
        const before = await commandCalls(redis.raw);
        const count = 10_000;
        const sending = runWorker({ ringbus: layer.handle, channel: me, count, group: '' });
        const piping = runWorker({ ringbus: layer.handle, channel: 'pipeline.stage', count, group: 'pipeline.fans' });
        for (let n = 0; n < count; n++) expect((await layer.receive(me, { timeout: 30_000 })) as { n: number }).toMatchObject({ n });
        for (let n = 0; n < count; n++) expect(await layer.receive('pipeline.stage', { timeout: 30_000 })).toMatchObject({ n });
        await Promise.all([sending, piping]);
        expect(await layer.receive('pipeline.fan', { timeout: 30_000 })).toEqual({ type: 'group' });
        const after = await commandCalls(redis.raw);
        // The bus router's blocking pop on this machine's key re-arms every few seconds (its
        // connection asks its id once, when the router starts): that is all this machine may
        // have asked Redis meanwhile, besides the INFO calls themselves.
        const routerOnly = new Set(['info', 'bzmpop', 'client|id']);
        const asked = [...after].filter(([name, n]) => !routerOnly.has(name) && n !== (before.get(name) ?? 0));
        expect(asked).toEqual([]);
      } finally {
        await layer.close();
      }
    }, 120_000);
  });

  describe('Sentinel', () => {
    const redis = useRedisSentinel();

    it('joins two machines through the master a sentinel names', async () => {
      const options = {
        backend: 'hybrid' as const,
        hosts: [redis.host],
        prefix: fresh(),
      };
      const [a, b] = await Promise.all([createLayer(options), createLayer(options)]);
      try {
        const [ca, cb] = [await a.newChannel(), await b.newChannel()];
        await a.send(cb, { to: 'b' });
        await b.send(ca, { to: 'a' });
        expect(await b.receive(cb, { timeout: 10_000 })).toEqual({ to: 'b' });
        expect(await a.receive(ca, { timeout: 10_000 })).toEqual({ to: 'a' });
        await a.groupAdd('sentinel.room', ca);
        await b.groupAdd('sentinel.room', cb);
        await b.groupSend('sentinel.room', { via: 'sentinel' });
        expect(await a.receive(ca, { timeout: 10_000 })).toEqual({ via: 'sentinel' });
        expect(await b.receive(cb, { timeout: 10_000 })).toEqual({ via: 'sentinel' });
      } finally {
        await a.close();
        await b.close();
      }
    }, 60_000);
  });

  describe('a ring of two servers', () => {
    const servers = [useRedisServer(), useRedisServer()];

    it('joins two machines and Python on the ring: direct sends both ways and one group', async () => {
      const hosts = servers.map((s) => s.url);
      const prefix = fresh();
      const [a, b] = await Promise.all([1, 2].map(() => createLayer({ backend: 'hybrid', hosts, prefix })));
      const python = await PythonPeer.start({ hosts, prefix });
      try {
        const channels = [await a!.newChannel(), await b!.newChannel(), await python.newChannel()];
        for (let i = 0; i < 20; i++) {
          // Many names, so that both servers of the ring hold some of the buses' keys.
          await a!.newChannel(`ring${i}`);
        }
        await a!.send(channels[1]!, { from: 'a' });
        await b!.send(channels[0]!, { from: 'b' });
        await a!.send(channels[2]!, { from: 'a' });
        await python.send(channels[0]!, { from: 'python' });
        await python.send(channels[1]!, { from: 'python' });
        const gotA = [await a!.receive(channels[0]!, { timeout: 10_000 }), await a!.receive(channels[0]!, { timeout: 10_000 })];
        const gotB = [await b!.receive(channels[1]!, { timeout: 10_000 }), await b!.receive(channels[1]!, { timeout: 10_000 })];
        expect(gotA.map((m) => m.from).sort()).toEqual(['b', 'python']);
        expect(gotB.map((m) => m.from).sort()).toEqual(['a', 'python']);
        expect((await python.receive(channels[2]!)).message).toEqual({ from: 'a' });

        for (const [i, layer] of [a!, b!].entries()) await layer.groupAdd('ring.room', channels[i]!);
        await python.groupAdd('ring.room', channels[2]!);
        await a!.groupSend('ring.room', { n: 1 });
        await python.groupSend('ring.room', { n: 2 });
        for (const [i, layer] of [a!, b!].entries()) {
          const got = [await layer.receive(channels[i]!, { timeout: 10_000 }), await layer.receive(channels[i]!, { timeout: 10_000 })];
          expect(got.map((m) => m.n).sort()).toEqual([1, 2]);
          await expect(layer.receive(channels[i]!, { timeout: 200 })).rejects.toThrow();
        }
        const py = [(await python.receive(channels[2]!)).message, (await python.receive(channels[2]!)).message];
        expect(py.map((m) => m.n).sort()).toEqual([1, 2]);
      } finally {
        await python.close();
        await a!.close();
        await b!.close();
      }
    }, 60_000);
  });
});
