/**
 * Timeouts of 2^31 ms and more: Node's setTimeout fires those at once (with a warning).
 * Every wait of every backend supports any finite timeout; options that cannot be chained
 * (ioredis' command timer) refuse it up front with a RangeError.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLayer, type ChannelLayer } from '../../dist/index.js';
import { resolveRedisOptions } from '../../dist/redis/options.js';
import { MAX_TIMER_MS, longTimeout } from '../../dist/wait.js';

const LONG = 2 ** 31; // the first delay that overflows a Node timer
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('longTimeout', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('chains timers for delays of 2^31 ms and more, and fires once at the end', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    longTimeout(fired, 3 * LONG + 5);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(2 * LONG);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(10);
    expect(fired).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10 * LONG);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('can be cleared in any link of the chain', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    const t = longTimeout(fired, 2 * LONG);
    vi.advanceTimersByTime(LONG + 1);
    t.clear();
    vi.advanceTimersByTime(4 * LONG);
    expect(fired).not.toHaveBeenCalled();
  });

  it('refuses a delay that is not a finite number >= 0', () => {
    expect(() => longTimeout(() => {}, Infinity)).toThrow(RangeError);
    expect(() => longTimeout(() => {}, -1)).toThrow(RangeError);
    expect(() => longTimeout(() => {}, Number.NaN)).toThrow(RangeError);
  });
});

const backends: Array<[string, () => Promise<ChannelLayer>]> = [
  ['memory', () => createLayer({ backend: 'memory', delivery: 'at-least-once', channelCapacity: { full: 1 }, channelFull: { full: 'wait' } })],
  ['shared', () => createLayer({ delivery: 'at-least-once', channelCapacity: { full: 1 }, channelFull: { full: 'wait' } })],
];

describe.each(backends)('a timeout of 2^31 ms or more (%s)', (_name, make) => {
  for (const timeout of [LONG, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
    it(`keeps a receive waiting (timeout ${timeout}) until a message comes`, async () => {
      const layer = await make();
      let settled = false;
      const got = layer.receive('t.rx', { timeout }).finally(() => (settled = true));
      await sleep(150);
      expect(settled).toBe(false);
      await layer.send('t.rx', { n: 1 });
      expect(await got).toEqual({ n: 1 });
      await layer.close();
    });
  }

  it('keeps a send waiting for room', async () => {
    const layer = await make();
    await layer.send('full', { n: 1 });
    let settled = false;
    const sent = layer.send('full', { n: 2 }, { timeout: LONG }).finally(() => (settled = true));
    await sleep(150);
    expect(settled).toBe(false);
    expect(await layer.receive('full')).toEqual({ n: 1 });
    await sent;
    expect(await layer.receive('full')).toEqual({ n: 2 });
    await layer.close();
  });

  it('accepts leaseTimeout of 2^31 ms: the lease does not expire at once', async () => {
    const layer = await createLayer(
      _name === 'memory' ? { backend: 'memory', delivery: 'at-least-once', leaseTimeout: LONG } : { delivery: 'at-least-once', leaseTimeout: LONG },
    );
    await layer.send('t.lease', { n: 1 });
    const lease = await layer.receiveLease('t.lease');
    await sleep(150);
    await expect(layer.receive('t.lease', { timeout: 50 })).rejects.toMatchObject({ code: 'ERR_RINGBUS_TIMEOUT' });
    expect(await lease.ack()).toBe(true);
    await layer.close();
  });
});

describe('options that cannot be chained', () => {
  it('refuse operationTimeout of 2^31 ms or more with a RangeError naming the option', () => {
    expect(() => resolveRedisOptions({ operationTimeout: LONG })).toThrow(RangeError);
    expect(() => resolveRedisOptions({ operationTimeout: LONG })).toThrow(/operationTimeout: 2147483648 ms; it must be at most 2147483647/);
    expect(resolveRedisOptions({ operationTimeout: MAX_TIMER_MS }).operationTimeout).toBe(MAX_TIMER_MS);
  });
});

describe('livenessTimeout (shared)', () => {
  it('is a number of milliseconds from 100 to 2^31 - 1, refused otherwise with a TypeError naming it', async () => {
    for (const bad of [50, 2 ** 31, Number.NaN, '1000', Infinity]) {
      await expect(createLayer({ livenessTimeout: bad as number })).rejects.toThrow(/invalid option livenessTimeout/);
    }
    const layer = await createLayer({ livenessTimeout: 100 });
    await layer.close();
  });
});
