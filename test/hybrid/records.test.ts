/**
 * Records never leave the machine: a hybrid layer with `records: true` (its sends inside the
 * machine may be records) puts plain msgpack in Redis, every time, for direct sends and group
 * sends alike; the plain decoder, which refuses every msgpack extension, reads each body. And
 * a group send from Redis lands in the bus as plain msgpack and decodes there next to records.
 */
import { describe, expect, it } from 'vitest';
import { createLayer, decode, encode, type HybridLayer } from '../../dist/index.js';
import { redisTestsEnabled, useRedisServer } from '../redis/server.js';

const enabled = redisTestsEnabled();

describe.runIf(enabled)('hybrid layer with records', () => {
  const redis = useRedisServer();

  it('writes plain msgpack to Redis however often a shape repeats, and reads records locally', async () => {
    const prefix = `hybrec${process.pid}:`;
    const options = { backend: 'hybrid' as const, hosts: [redis.url], prefix, memory: 8 * 1024 * 1024, localChannels: ['local.*'] };
    const a = (await createLayer({ ...options, records: true })) as HybridLayer;
    const b = (await createLayer(options)) as HybridLayer; // another machine
    try {
      const m = (n: number) => ({ type: 'chat.message', text: 'hi', n, who: { id: n, name: 'x' } });
      for (let n = 0; n < 5; n++) {
        await a.send('local.x', m(n)); // inside the machine: records from the second on
        expect(await a.receive('local.x')).toEqual(m(n));
        await a.send('remote.x', m(n)); // through Redis
      }
      expect(a.memoryStats().structures.reserved).toBeGreaterThan(0); // the local sends used records
      const bodies = await redis.raw.zrangeBuffer(`${prefix}remote.x`, 0, -1);
      expect(bodies).toHaveLength(5);
      // channels_redis bodies: 12 random bytes, then the msgpack of the message.
      const sent = bodies.map((b) => decode(b.subarray(12)));
      expect(sent.map((x) => x.n).sort()).toEqual([0, 1, 2, 3, 4]);
      for (const body of sent) expect(encode(body)).toEqual(encode(m(body.n as number)));
      for (let n = 0; n < 5; n++) expect(await b.receive('remote.x')).toEqual(m(n));

      // A group with a member on each machine: the local member gets the stored encoding, the
      // remote one the Redis body, which must be plain.
      const mine = await a.newChannel();
      const theirs = await b.newChannel();
      await a.groupAdd('room', mine);
      await b.groupAdd('room', theirs);
      for (let n = 0; n < 3; n++) {
        await a.groupSend('room', m(n));
        expect(await a.receive(mine)).toEqual(m(n));
        expect(await b.receive(theirs)).toEqual(m(n));
        await b.groupSend('room', m(10 + n)); // from Redis into a's bus: plain bytes there
        expect(await a.receive(mine)).toEqual(m(10 + n));
        expect(await b.receive(theirs)).toEqual(m(10 + n));
      }
    } finally {
      await b.close();
      await a.close();
    }
  });
});
