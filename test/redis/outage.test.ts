/**
 * Outages: a stopped redis-server makes operations fail with ConnectionError within
 * `operationTimeout` (never hang); pending receives survive a restart and resume; closing
 * the layer lets the process exit.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConnectionError, createLayer, type ChannelLayer } from '../../dist/index.js';
import { freePort, redisTestsEnabled, useRedisServer } from './server.js';

const enabled = redisTestsEnabled();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe.runIf(enabled)('redis outages', () => {
  const redis = useRedisServer();

  it('createLayer rejects with ConnectionError naming the host when nothing listens', async () => {
    const port = await freePort();
    const started = Date.now();
    const err = await createLayer({ backend: 'redis', hosts: [`redis://127.0.0.1:${port}`], operationTimeout: 300 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe('ERR_RINGBUS_CONNECTION');
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
    expect((err as Error).message).toContain('operationTimeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('rejects sends while the server is down, and recovers with pending receives resuming', async () => {
    const options = { backend: 'redis' as const, hosts: [redis.url], prefix: `outage${process.pid}:`, operationTimeout: 300 };
    const consumer: ChannelLayer = await createLayer(options);
    const producer: ChannelLayer = await createLayer(options);
    const ch = 'outage.stream';
    const received: number[] = [];
    const ac = new AbortController();
    const consuming = (async () => {
      for await (const m of consumer.listen(ch, { signal: ac.signal })) received.push(m.i as number);
    })();

    let i = 0;
    const sendSome = async (n: number) => {
      for (let k = 0; k < n; k++) {
        await producer.send(ch, { i: i++ });
        await sleep(2);
      }
    };
    await sendSome(20);
    while (received.length < 20) await sleep(10);

    await redis.server.stop();
    // Down: a send fails, within operationTimeout plus a margin, with a clear error.
    const started = Date.now();
    const err = await producer.send(ch, { i: -1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/unreachable|lost the connection|did not answer/);
    expect(Date.now() - started).toBeLessThan(300 + 2000);
    await expect(producer.groupSend('g', {})).rejects.toBeInstanceOf(ConnectionError);

    await redis.server.restart();
    // Back: sends succeed again once ioredis has reconnected (within operationTimeout of waiting).
    let sent = false;
    for (let attempt = 0; attempt < 50 && !sent; attempt++) {
      try {
        await producer.send(ch, { i: i++ });
        sent = true;
      } catch {
        await sleep(100);
      }
    }
    expect(sent).toBe(true);
    const last = i;
    await sendSome(20);
    // The listen loop started before the outage receives what was sent after it.
    const deadline = Date.now() + 10_000;
    while (!received.includes(last + 19) && Date.now() < deadline) await sleep(20);
    ac.abort();
    await consuming;
    expect(received).toContain(last + 19);
    // In order, each at most once.
    for (let k = 1; k < received.length; k++) expect(received[k]).toBeGreaterThan(received[k - 1] as number);
    await producer.close();
    await consumer.close();
  });

  it('keeps a waiting lease taker through a restart', async () => {
    const options = { backend: 'redis' as const, hosts: [redis.url], prefix: `lease${process.pid}:`, operationTimeout: 300, delivery: 'at-least-once' as const };
    const taker = await createLayer(options);
    const producer = await createLayer(options);
    const ch = 'outage.leases';
    const waiting = taker.receiveLease(ch, { timeout: 20_000 });
    await sleep(50);
    await redis.server.stop();
    await sleep(400);
    await redis.server.restart();
    for (let sent = false; !sent; ) {
      sent = await producer.send(ch, { after: 'restart' }).then(() => true, () => sleep(100).then(() => false));
    }
    const lease = await waiting;
    expect(lease.message).toEqual({ after: 'restart' });
    expect(await lease.ack()).toBe(true);
    await producer.close();
    await taker.close();
  });

  it('lets the process exit by itself after close()', () => {
    const child = fileURLToPath(new URL('./exit-child.js', import.meta.url));
    const result = spawnSync(process.execPath, [child, redis.url], { timeout: 20_000, encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe('ERR_RINGBUS_LAYER_CLOSED');
  });
});
