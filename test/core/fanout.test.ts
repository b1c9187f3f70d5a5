/**
 * Decode once per thread for fan-out (`frozenMessages`, src/layers/shared/fanout.ts): one
 * thread draining many members of a group send gets one frozen value, the blocks the cache
 * holds come back (after the last delivery, after other threads took theirs, when a cached
 * thread is killed and reaped), and without the option every delivery is its own mutable value.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { attachLayer, createLayer, type SharedLayer } from '../../dist/index.js';

const MEMBERS = 50;
const members = Array.from({ length: MEMBERS }, (_, i) => `fan.m${i}`);

async function bus(frozenMessages: boolean): Promise<SharedLayer> {
  const layer: SharedLayer = await createLayer({ memory: 8 * 1024 * 1024, frozenMessages });
  for (const m of members) await layer.groupAdd('fan', m);
  return layer;
}

function isDeepFrozen(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) return true;
  return Object.isFrozen(v) && Object.values(v as object).every(isDeepFrozen);
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fan-out, decode once (frozenMessages)', () => {
  it('gives one thread the same frozen value on every member, and every block back after the last delivery', async () => {
    const layer = await bus(true);
    const start = layer.memoryStats().freeBytes;
    for (let s = 0; s < 3; s++) await layer.groupSend('fan', { s, nested: { list: [1, { deep: s }] } });
    const firsts: unknown[] = [];
    for (const [i, m] of members.entries()) {
      for (let s = 0; s < 3; s++) {
        const got = (await layer.receive(m, { timeout: 0 })) as { s: number };
        expect(got).toEqual({ s, nested: { list: [1, { deep: s }] } });
        expect(isDeepFrozen(got)).toBe(true);
        if (i === 0) firsts.push(got);
        else expect(got).toBe(firsts[s]); // the very same object: decoded once
      }
    }
    expect(() => {
      'use strict';
      (firsts[0] as { s: number }).s = 9;
    }).toThrow(TypeError);
    expect(layer.memoryStats().freeBytes).toBe(start);
    await layer.close();
  });

  it('decodes a message with bytes per delivery (bytes cannot be frozen), objects still frozen', async () => {
    const layer = await bus(true);
    const start = layer.memoryStats().freeBytes;
    await layer.groupSend('fan', { b: new Uint8Array([1, 2, 3]), o: { k: 1 } });
    const a = (await layer.receive(members[0]!, { timeout: 0 })) as { b: Uint8Array; o: object };
    const b = (await layer.receive(members[1]!, { timeout: 0 })) as { b: Uint8Array; o: object };
    expect(a).not.toBe(b);
    expect(a.b).not.toBe(b.b);
    expect(Array.from(b.b)).toEqual([1, 2, 3]);
    a.b[0] = 7;
    expect(b.b[0]).toBe(1);
    expect(Object.isFrozen(a.o)).toBe(true);
    for (const m of members.slice(2)) await layer.receive(m, { timeout: 0 });
    expect(layer.memoryStats().freeBytes).toBe(start);
    await layer.close();
  });

  it('gives back cached blocks once the other threads took their deliveries', async () => {
    const layer = await bus(true);
    const other = attachLayer(layer.handle);
    const start = layer.memoryStats().freeBytes;
    await layer.groupSend('fan', { x: 1 });
    for (const m of members.slice(0, 10)) expect(await layer.receive(m, { timeout: 0 })).toEqual({ x: 1 });
    for (const m of members.slice(10)) expect(await other.receive(m, { timeout: 0 })).toEqual({ x: 1 });
    // `layer`'s cache still holds the block: its timer gives it back (no delivery is left).
    for (let i = 0; i < 100 && layer.memoryStats().freeBytes !== start; i++) await settle(50);
    expect(layer.memoryStats().freeBytes).toBe(start);
    await other.close();
    await layer.close();
  });

  it("gives back a killed thread's cached blocks when it is reaped", async () => {
    const layer = await bus(true);
    const start = layer.memoryStats().freeBytes;
    for (let s = 0; s < 5; s++) await layer.groupSend('fan', { s });
    const worker = new Worker(new URL('./fanout-worker.js', import.meta.url), {
      workerData: { handle: layer.handle, members: members.slice(0, 5) },
    });
    const reaped = layer.watch(worker);
    const report = await new Promise<{ cached: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(report.cached).toBeGreaterThan(0);
    await worker.terminate();
    await reaped;
    for (const m of members) for (;;) {
      try {
        await layer.receive(m, { timeout: 0 });
      } catch {
        break;
      }
    }
    for (let i = 0; i < 100 && layer.memoryStats().freeBytes !== start; i++) await settle(50);
    expect(layer.memoryStats().freeBytes).toBe(start);
    await layer.close();
  });

  it('without the option, every delivery is a mutable value of its own', async () => {
    const layer = await bus(false);
    await layer.groupSend('fan', { o: { k: 1 } });
    const a = (await layer.receive(members[0]!, { timeout: 0 })) as { o: { k: number } };
    const b = (await layer.receive(members[1]!, { timeout: 0 })) as { o: { k: number } };
    expect(a).not.toBe(b);
    a.o.k = 2;
    expect(b.o.k).toBe(1);
    expect(Object.isFrozen(a)).toBe(false);
    await layer.close();
  });
});
