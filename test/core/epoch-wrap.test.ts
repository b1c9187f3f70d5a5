/**
 * Grace periods across the wrap of the 32-bit reclamation epoch (assembly/epoch.ts): a record
 * reclaimed in epoch e goes back to the arena only once the epoch is e + 2, also when e + 2
 * wraps past 2^32 (a long-running bus whose instances call reclaim() often gets there).
 * Driven straight through the core, one thread: the epoch word is set by hand.
 */
import { describe, expect, it } from 'vitest';
import { attachLayer, createLayer, type SharedLayer } from '../../dist/index.js';
import { Core } from '../../dist/wasm/core.js';

describe('reclamation epoch wrap', () => {
  for (const start of [0xfffffffe, 0xffffffff]) {
    it(`a record reclaimed in epoch ${start} stays in limbo until the epoch is ${(start + 2) % 2 ** 32}`, async () => {
      const layer: SharedLayer = await createLayer({ memory: 4 * 1024 * 1024 });
      const core = new Core(layer.handle.module, layer.handle.memory);
      const x = core.x;
      const epoch = x.epochWord() >> 2;
      // The channel is used by an instance that closes (a channel used through the fast paths
      // stays pinned by its user while hot: assembly/holds.ts), so it is unused here.
      const user = attachLayer(layer.handle);
      await user.send('wrap.a', { n: 1 });
      expect(await user.receive('wrap.a')).toEqual({ n: 1 });
      await user.close();
      Atomics.store(core.i32, epoch, start | 0);
      const pooled = x.recordsPooled();
      expect(x.sweep(x.slots(), 0, 0)).toBe(1); // the empty channel, reclaimed in epoch `start`
      expect(x.recordsPooled()).toBe(pooled + 1);
      expect(x.graceDrain(1 << 30)).toBe(0); // epoch e: instances may still hold its address
      Atomics.store(core.i32, epoch, (start + 1) | 0);
      expect(x.graceDrain(1 << 30)).toBe(0); // e + 1: still not every instance announced e + 1
      Atomics.store(core.i32, epoch, (start + 2) | 0);
      expect(x.graceDrain(1 << 30)).toBe(1); // e + 2 (wrapped): due
      expect(x.recordsPooled()).toBe(pooled);
      await layer.close();
    });
  }
});
