/**
 * Running out of shared memory is an error the caller sees, never corruption or a hang, and
 * the bus keeps serving everybody else: arena exhaustion (with the exact return of free
 * space once drained), registry exhaustion, MessageTooLarge, and attaching to a region
 * that is not (or no longer) what this build reads.
 */
import { describe, expect, it } from 'vitest';
import {
  LayoutMismatch,
  MessageTooLarge,
  OutOfSharedMemory,
  attachLayer,
  createLayer,
  type SharedLayer,
} from '../../dist/index.js';

const MiB = 1024 * 1024;

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; region?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('arena exhaustion', () => {
  it('fails the sender with OutOfSharedMemory, keeps serving others, and returns every byte when drained', async () => {
    const layer: SharedLayer = await createLayer({ memory: 4 * MiB, capacity: 20_000 });
    const peer = attachLayer(layer.handle);
    await layer.send('fill', { warm: 1 });
    await layer.receive('fill');
    await layer.send('other', { keep: 1 }); // a queued message keeps 'other' from being reclaimed
    const start = layer.memoryStats();

    const payload = new Uint8Array(1000);
    let sent = 0;
    let err: Error & { code?: string; region?: string };
    for (;;) {
      try {
        await peer.send('fill', { i: sent, payload });
        sent++;
      } catch (e) {
        err = e as Error;
        break;
      }
    }
    expect(err).toBeInstanceOf(OutOfSharedMemory);
    expect(err.code).toBe('ERR_RINGBUS_OUT_OF_MEMORY');
    expect(err.region).toBe('arena');
    expect(err.message).toMatch(/arena/);
    expect(sent).toBeGreaterThan(1000);
    // The failed send left nothing behind, and the bus still works for everybody, including
    // an instance that attaches now and has to look the channel up (names need no arena):
    expect(layer.stats().depths.fill).toBe(sent);
    // Small blocks share pages of one size class: receiving one page's worth of messages gives
    // a whole page back to the pool, which then serves any size.
    const late = attachLayer(layer.handle);
    const perPage = Math.ceil(start.pageBytes / 1024);
    for (let i = 0; i < perPage; i++) expect(await late.receive('fill')).toEqual({ i, payload });
    await late.close();
    await peer.send('other', { small: true });
    expect(await layer.receive('other')).toEqual({ keep: 1 });
    expect(await layer.receive('other')).toEqual({ small: true });
    await layer.send('other', { keep: 1 });
    // Drain: the free space returns to exactly what it was.
    for (let i = perPage; i < sent; i++) expect((await layer.receive('fill', { timeout: 0 })).i).toBe(i);
    const end = layer.memoryStats();
    expect(end.freeBytes).toBe(start.freeBytes);
    expect(end.records).toBe(start.records);
    await peer.close();
    await layer.close();
  });

  it('fails a groupSend that finds no room without touching any member', async () => {
    const layer: SharedLayer = await createLayer({ memory: 2 * MiB, capacity: 1000 });
    await layer.groupAdd('g', 'member');
    const start = layer.memoryStats().freeBytes;
    const big = new Uint8Array(200_000);
    let n = 0;
    let err: Error | undefined;
    for (; n < 100; n++) {
      try {
        await layer.groupSend('g', { big });
      } catch (e) {
        err = e as Error;
        break;
      }
    }
    expect(err).toBeInstanceOf(OutOfSharedMemory);
    expect(layer.stats().depths.member).toBe(n);
    for (let i = 0; i < n; i++) await layer.receive('member', { timeout: 0 });
    expect(layer.memoryStats().freeBytes).toBe(start);
    await layer.close();
  });
});

describe('attaching', () => {
  it('costs no shared memory: a thousand instances attach, work and go, and the arena is untouched', async () => {
    const layer: SharedLayer = await createLayer({ memory: 4 * MiB });
    await layer.groupAdd('g', 'c');
    const start = layer.memoryStats();
    for (let i = 0; i < 1000; i++) {
      const other = attachLayer(layer.handle);
      await other.groupSend('g', { i });
      expect(await other.receive('c')).toEqual({ i });
      if (i % 2 === 0) await other.close(); // the others are simply dropped, like a killed thread
    }
    const end = layer.memoryStats();
    // (carvedBytes may grow: the first blocks of a size class are carved, then free-listed.)
    expect({ free: end.freeBytes, records: end.records, names: end.names }).toEqual({
      free: start.freeBytes,
      records: start.records,
      names: start.names,
    });
    await layer.close();
  });
});

describe('registry exhaustion', () => {
  it('refuses a new name with OutOfSharedMemory (registry) while existing channels keep working', async () => {
    const layer: SharedLayer = await createLayer({ memory: 4 * MiB, maxNames: 16 });
    const names: string[] = [];
    let err: (Error & { code?: string; region?: string }) | undefined;
    for (let i = 0; i < 1000 && err === undefined; i++) {
      try {
        // A queued message keeps the channel from being reclaimed.
        await layer.send(`name.${i}`, { i });
        names.push(`name.${i}`);
      } catch (e) {
        err = e as Error;
      }
    }
    expect(err).toBeInstanceOf(OutOfSharedMemory);
    expect(err!.region).toBe('registry');
    expect(err!.message).toContain('maxNames');
    expect(names.length).toBeGreaterThanOrEqual(16);
    for (const name of names) expect(await layer.receive(name, { timeout: 0 })).toEqual({ i: Number(name.slice(5)) });
    // Emptied channels are reclaimed on demand, so new names fit again.
    await layer.send('a.new.name', { ok: true });
    expect(await layer.receive('a.new.name')).toEqual({ ok: true });
    await layer.close();
  });

  it('holds maxNames live names, as promised (two-choice hashing into the emptier bucket)', async () => {
    // 4096 is the worst case of the sizing rule: exactly 4/7 of the table's slots.
    for (const maxNames of [4096, 5000]) {
      const layer: SharedLayer = await createLayer({ memory: 32 * MiB, maxNames, capacity: 1 });
      for (let i = 0; i < maxNames; i++) await layer.send(`live.${i}`, { i });
      expect(layer.memoryStats().names).toBe(maxNames);
      for (let i = 0; i < maxNames; i += 997) expect(await layer.receive(`live.${i}`, { timeout: 0 })).toEqual({ i });
      await layer.close();
    }
  });
});

describe('limits and mismatches', () => {
  it('rejects a message over maxMessageSize with MessageTooLarge', async () => {
    const layer = await createLayer({ memory: 4 * MiB, maxMessageSize: 1000 });
    const err = await rejection(layer.send('x', { d: new Uint8Array(2000) }));
    expect(err).toBeInstanceOf(MessageTooLarge);
    expect(err.code).toBe('ERR_RINGBUS_MESSAGE_TOO_LARGE');
    await layer.close();
  });

  it('refuses to attach to a region of another layout version or a foreign memory', async () => {
    const layer: SharedLayer = await createLayer({ memory: 4 * MiB });
    const { handle } = layer;
    // Corrupt the layout version in the header (magic at 65536, version at 65540).
    const view = new DataView(handle.memory.buffer as SharedArrayBuffer);
    const version = view.getUint32(65540, true);
    view.setUint32(65540, version + 1, true);
    expect(() => attachLayer(handle)).toThrow(LayoutMismatch);
    expect(() => attachLayer(handle)).toThrow(/layout version/);
    view.setUint32(65540, version, true);
    expect(() => attachLayer(handle).close()).not.toThrow();
    const foreign = new (globalThis as any).WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
    expect(() => attachLayer({ ...handle, memory: foreign })).toThrow(/magic/);
    expect(() => attachLayer({ ...handle, memory: new (globalThis as any).WebAssembly.Memory({ initial: 1 }) })).toThrow(
      LayoutMismatch,
    );
    const tiny = new (globalThis as any).WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    expect(() => attachLayer({ ...handle, memory: tiny })).toThrow(/too small/);
    expect(() => attachLayer({ ...handle, module: {} as never })).toThrow(LayoutMismatch);
    await layer.close();
  });

  it('rejects bad shared options with a TypeError naming them', async () => {
    await expect(createLayer({ memory: 1000 })).rejects.toThrow(/memory/);
    await expect(createLayer({ memory: 3 * MiB + 1 })).rejects.toThrow(/memory/);
    await expect(createLayer({ maxMessageSize: 0 })).rejects.toThrow(/maxMessageSize/);
    await expect(createLayer({ maxNames: 1 })).rejects.toThrow(/maxNames/);
    // LIFO channels are stacks: they cannot evict their oldest message (docs/tradeoffs.md).
    await expect(createLayer({ order: 'lifo', full: 'drop-oldest' })).rejects.toMatchObject({ code: 'ERR_RINGBUS_UNSUPPORTED' });
    await expect(createLayer({ delivery: 'at-least-once', maxLeases: 0 })).rejects.toThrow(/maxLeases/);
  });
});
