/**
 * Read-ahead of a Redis layer's own `!` key: once the layer has received on one of its
 * process-specific channels, a pop stays parked on that key while nothing is buffered, so the
 * next message is in the process before receive asks for it. It must never deliver a message
 * twice or lose one, must take at most one stored message ahead (the channel's capacity still
 * decides when senders are refused), and must report, not drop unseen, what it holds at close.
 */
import { describe, expect, it } from 'vitest';
import { ChannelFull, TimeoutError, type LayerEvent } from '../../dist/index.js';
import { redisTestsEnabled, uniquePrefix, useRedisServer } from './server.js';

const enabled = redisTestsEnabled();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe.runIf(enabled)('redis layer: read-ahead of its own key', () => {
  const redis = useRedisServer();
  const make = redis.layers();
  const keyOf = (prefix: string, ch: string) => `${prefix}${ch.slice(0, ch.indexOf('!') + 1)}`;
  /** Wait until `key` holds `n` members (the read-ahead pop runs on its own). */
  const untilDepth = async (key: string, n: number) => {
    for (let i = 0; i < 400 && (await redis.raw.zcard(key)) !== n; i++) await sleep(5);
    return redis.raw.zcard(key);
  };

  it('takes the next message out of Redis before receive asks for it, once the layer has received there', async () => {
    const prefix = uniquePrefix('ra');
    const a = await make({ prefix });
    const b = await make({ prefix });
    const mine = await a.newChannel();
    await b.send(mine, { n: 0 });
    // Before any receive, nothing is read ahead: the message stays in Redis.
    await sleep(50);
    expect(await redis.raw.zcard(keyOf(prefix, mine))).toBe(1);
    expect(await a.receive(mine)).toEqual({ n: 0 });
    await b.send(mine, { n: 1 });
    expect(await untilDepth(keyOf(prefix, mine), 0)).toBe(0);
    expect(a.stats().depths[mine]).toBe(1); // buffered in the process
    expect(await a.receive(mine, { timeout: 0 })).toEqual({ n: 1 });
  });

  it('reads ahead again after flush emptied what it had buffered', async () => {
    const prefix = uniquePrefix('ra');
    const a = await make({ prefix });
    const b = await make({ prefix });
    const mine = await a.newChannel();
    await expect(a.receive(mine, { timeout: 20 })).rejects.toBeInstanceOf(TimeoutError);
    await b.send(mine, { n: 1 });
    expect(await untilDepth(keyOf(prefix, mine), 0)).toBe(0);
    await a.flush();
    expect(a.stats().depths[mine]).toBeUndefined();
    await b.send(mine, { n: 2 });
    expect(await untilDepth(keyOf(prefix, mine), 0)).toBe(0);
    expect(await a.receive(mine, { timeout: 0 })).toEqual({ n: 2 });
  });

  it('reads ahead one stored message only: the capacity of the key still refuses senders', async () => {
    const prefix = uniquePrefix('ra');
    const a = await make({ prefix, capacity: 3 });
    const b = await make({ prefix, capacity: 3 });
    const mine = await a.newChannel();
    await expect(a.receive(mine, { timeout: 20 })).rejects.toBeInstanceOf(TimeoutError); // starts the read-ahead
    await b.send(mine, { n: 1 });
    expect(await untilDepth(keyOf(prefix, mine), 0)).toBe(0);
    // One message in the process; the key takes 3 more, then senders are refused.
    for (let n = 2; n <= 4; n++) await b.send(mine, { n });
    await sleep(50);
    expect(await redis.raw.zcard(keyOf(prefix, mine))).toBe(3);
    await expect(b.send(mine, { n: 5 })).rejects.toBeInstanceOf(ChannelFull);
    const dropped = a.stats().dropped;
    const got = [((await a.receive(mine, { timeout: 0 })) as { n: number }).n];
    // The buffer is empty again: the read-ahead resumes and takes one of the three, not all.
    expect(await untilDepth(keyOf(prefix, mine), 2)).toBe(2);
    await sleep(50);
    expect(await redis.raw.zcard(keyOf(prefix, mine))).toBe(2);
    for (let i = 0; i < 3; i++) got.push(((await a.receive(mine, { timeout: 2000 })) as { n: number }).n);
    expect(got).toEqual([1, 2, 3, 4]);
    expect(a.stats().dropped).toBe(dropped);
  });

  it('delivers every message exactly once, in order per channel, to impatient and patient receivers', async () => {
    const prefix = uniquePrefix('ra');
    const a = await make({ prefix, capacity: 10_000 });
    const b = await make({ prefix, capacity: 10_000 });
    const channels = [await a.newChannel(), await a.newChannel(), await a.newChannel()];
    const count = 300;
    const received = channels.map(() => [] as number[]);
    const receivers = channels.map(async (ch, c) => {
      while (received[c]!.length < count) {
        try {
          // Short timeouts keep receivers leaving while pops are parked and messages arrive.
          const m = (await a.receive(ch, { timeout: c === 0 ? 1 : c === 1 ? 7 : 2000 })) as { n: number };
          received[c]!.push(m.n);
        } catch (err) {
          if (!(err instanceof TimeoutError)) throw err;
        }
        if (received[c]!.length % 50 === 0) await sleep(3); // let the read-ahead fill the buffer
      }
    });
    for (let n = 0; n < count; n++) {
      await Promise.all(channels.map((ch) => b.send(ch, { n })));
      if (n % 40 === 0) await b.groupSend('none.group', { n: -1 }); // no member: nothing arrives
    }
    await Promise.all(receivers);
    for (const list of received) expect(list).toEqual(Array.from({ length: count }, (_, n) => n));
    for (const ch of channels) await expect(a.receive(ch, { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
    expect(a.stats().dropped).toBe(0);
  });

  it('reports what it read ahead and never received at close (reason closed), and loses nothing unseen while closing', async () => {
    const prefix = uniquePrefix('ra');
    const a = await make({ prefix, capacity: 10_000 });
    const b = await make({ prefix, capacity: 10_000 });
    const mine = await a.newChannel();
    const events: LayerEvent[] = [];
    a.onEvent((e) => events.push(e));
    await expect(a.receive(mine, { timeout: 20 })).rejects.toBeInstanceOf(TimeoutError);
    await b.send(mine, { n: 1 });
    expect(await untilDepth(keyOf(prefix, mine), 0)).toBe(0);
    // Messages keep arriving while the layer closes: each one ends up either still in Redis
    // or reported as dropped at close.
    let sent = 1;
    let stop = false;
    const sending = (async () => {
      while (!stop) {
        await b.send(mine, { n: ++sent });
        if (sent % 5 === 0) await sleep(0);
      }
    })();
    await sleep(20);
    await a.close();
    stop = true;
    await sending;
    const reported = events.reduce(
      (n, e) => (e.type === 'dropped' && e.reason === 'closed' && e.channel === mine ? n + e.count : n),
      0,
    );
    expect(reported).toBeGreaterThanOrEqual(1);
    expect(reported + (await redis.raw.zcard(keyOf(prefix, mine)))).toBe(sent);
  });
});
