/**
 * Options: an unknown option is a TypeError naming it and the closest known option, on
 * every backend; the expiries (seconds) refuse values that are surely milliseconds given by
 * mistake, with the reason, unless allowLongExpiry.
 */
import { describe, expect, it } from 'vitest';
import { createLayer, type ChannelLayer } from '../../dist/index.js';
import { closestName, editDistance } from '../../dist/options.js';

const backends = ['memory', 'shared', 'redis', 'hybrid'] as const;

/** Options are checked before anything is allocated or connected: no server needed for refusals. */
async function refusal(backend: string, options: Record<string, unknown>): Promise<Error> {
  try {
    const layer: ChannelLayer = await createLayer({ backend, ...options } as never);
    await layer.close();
  } catch (err) {
    return err as Error;
  }
  throw new Error(`createLayer(${JSON.stringify({ backend, ...options })}) was accepted`);
}

describe('edit distance', () => {
  it('counts insertions, deletions and substitutions, ignoring case', () => {
    expect(editDistance('capcity', 'capacity')).toBe(1);
    expect(editDistance('Capacity', 'capacity')).toBe(0);
    expect(editDistance('expirey', 'expiry')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('suggests only a close name', () => {
    expect(closestName('capcity', ['capacity', 'expiry'])).toBe('capacity');
    expect(closestName('groupexpiry', ['expiry', 'groupExpiry'])).toBe('groupExpiry');
    expect(closestName('zzzzzz', ['capacity', 'expiry'])).toBeUndefined();
  });
});

describe('unknown options', () => {
  for (const backend of backends) {
    it(`${backend}: a typo is a TypeError naming it and the closest known option`, async () => {
      const err = await refusal(backend, { capcity: 10 });
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toBe(`unknown option "capcity" for createLayer({ backend: '${backend}' }); did you mean "capacity"?`);
      const other = await refusal(backend, { leaseTimout: 10 });
      expect(other.message).toMatch(/"leaseTimout".*did you mean "leaseTimeout"\?/);
    });

    it(`${backend}: a name close to nothing lists the known options`, async () => {
      const err = await refusal(backend, { colour: 'blue' });
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toMatch(/unknown option "colour" .*; known options: capacity, channelCapacity, expiry/);
    });
  }

  it('backend-specific options are unknown to the other backends', async () => {
    expect((await refusal('memory', { hosts: ['redis://127.0.0.1:1'] })).message).toMatch(/unknown option "hosts"/);
    expect((await refusal('redis', { memory: 8 << 20 })).message).toMatch(/unknown option "memory"/);
  });
});

describe('units of the expiries (seconds)', () => {
  for (const backend of backends) {
    it(`${backend}: refuses an expiry that is surely milliseconds, saying why`, async () => {
      const ms = await refusal(backend, { expiry: 60_000 });
      expect(ms).toBeInstanceOf(TypeError);
      expect(ms.message).toMatch(/expiry is in seconds.*60000 s is 16\.7 hours.*did you mean expiry: 60\?/);
      const day = await refusal(backend, { expiry: 90_061 });
      expect(day.message).toMatch(/above a day/);
      const group = await refusal(backend, { expiry: 120, groupExpiry: 60 });
      expect(group.message).toMatch(/longer than groupExpiry \(60 s\)/);
      const year = await refusal(backend, { groupExpiry: 86_400_000 });
      expect(year.message).toMatch(/groupExpiry is in seconds.*above a year.*groupExpiry: 86400\?/);
      expect((await refusal(backend, { allowLongExpiry: 'yes' })).message).toMatch(/allowLongExpiry.*boolean/);
    });
  }

  it('accepts those values with allowLongExpiry, and ordinary values without it', async () => {
    for (const options of [
      { expiry: 60_000, allowLongExpiry: true },
      { expiry: 2 * 86_400, groupExpiry: 7 * 86_400, allowLongExpiry: true },
      { expiry: 3600, groupExpiry: 7 * 86_400 },
      { expiry: 86_400 },
      { groupExpiry: 0.05 }, // a short groupExpiry is not checked against the default expiry
    ]) {
      for (const backend of ['memory', 'shared'] as const) {
        const layer: ChannelLayer = await createLayer({ backend, ...options } as never);
        await layer.send('a', { ok: 1 });
        expect(await layer.receive('a')).toEqual({ ok: 1 });
        await layer.close();
      }
    }
  });
});
