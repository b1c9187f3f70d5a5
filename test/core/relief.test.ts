/**
 * A failed allocation does bounded work (issue 9 §4): relief steps that together sweep at most
 * one pass over the registry, never "sweep until a pass frees nothing" (which blocked a worker
 * for 2.2 s near a full arena). No time is measured: the registry slots swept are counted.
 *
 * The set-up makes every pass free something: channels that are members of groups whose
 * memberships expired become reclaimable only on the pass after their group dropped them, so a
 * loop until a pass frees nothing would sweep the registry at least twice.
 */
import { describe, expect, it } from 'vitest';
import { createLayer, OutOfSharedMemory, type SharedLayer } from '../../dist/index.js';

interface CoreLike {
  x: { sweep(n: number, groupCutoff: number, messageCutoff: number): number; slots(): number };
}

describe('relief after a failed allocation', () => {
  it('sweeps at most one pass over the registry, even when every pass would free something', async () => {
    const layer = (await createLayer({
      memory: 16 * 1024 * 1024,
      channelCapacity: { backlog: 50_000 },
      expiry: 3600,
      groupExpiry: 1,
      allowLongExpiry: true,
    })) as SharedLayer;
    const core = (layer as unknown as { core: CoreLike }).core;
    const slots = core.x.slots();
    for (let i = 0; i < 2000; i++) await layer.groupAdd(`g${i}`, `member.c${i}`);
    const text = 'x'.repeat(1000);
    let full = false;
    for (let i = 0; i < 100_000 && !full; i++) {
      try {
        await layer.send('backlog', { text });
      } catch (err) {
        expect(err).toBeInstanceOf(OutOfSharedMemory);
        full = true;
      }
    }
    expect(full).toBe(true);
    await new Promise((r) => setTimeout(r, 1500)); // the memberships expire

    // Count what the sweeps of ONE failed send visit: the relief runs inside the call.
    const real = core.x;
    let swept = 0;
    let calls = 0;
    // The exports object is frozen: count through a copy whose sweep is wrapped.
    const counting = { ...real } as CoreLike['x'];
    counting.sweep = (n: number, g: number, m: number) => {
      calls++;
      swept += Math.min(n, slots);
      return real.sweep(n, g, m);
    };
    Object.defineProperty(core, 'x', { value: counting, configurable: true, writable: true });
    const sent = layer.send('backlog', { text }).then(
      () => 'sent',
      (err: unknown) => (err instanceof OutOfSharedMemory ? 'refused' : Promise.reject(err)),
    );
    Object.defineProperty(core, 'x', { value: real, configurable: true, writable: true });
    expect(['sent', 'refused']).toContain(await sent);

    expect(calls).toBeGreaterThan(0); // the send did need relief
    expect(swept).toBeLessThanOrEqual(Math.max(slots, 4 * 4096));
    await layer.close();
  });
});
