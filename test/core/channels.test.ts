/**
 * 100 000 channels created and used (newChannel per "connection", one message through each):
 * memory per idle channel, bounded memory under that churn, and full reclamation.
 */
import { describe, expect, it } from 'vitest';
import { createLayer, type SharedLayer } from '../../dist/index.js';

const CHANNELS = 100_000;

describe('many channels', () => {
  it(`creates and uses ${CHANNELS.toLocaleString('en')} channels; idle ones cost a record and a ring, and are reclaimed`, async () => {
    const layer: SharedLayer = await createLayer({ memory: 256 * 1024 * 1024, maxNames: 200_000 });
    const peer = (await import('../../dist/index.js')).attachLayer(layer.handle);
    const before = layer.memoryStats();
    let peakNames = 0;
    for (let i = 0; i < CHANNELS; i++) {
      const ch = await layer.newChannel('conn');
      await peer.send(ch, { i });
      const m = await layer.receive(ch);
      if (m.i !== i) throw new Error(`channel ${ch} delivered ${JSON.stringify(m)}`);
      if (i % 1000 === 0) peakNames = Math.max(peakNames, layer.memoryStats().names);
    }
    const mid = layer.memoryStats();
    // Bytes taken from the arena by the channels that still exist (records + rings), per channel.
    const used = before.freeBytes - mid.freeBytes - mid.pooledRecords * mid.recordBytes;
    const perChannel = used / mid.records;
    // Structural: a 512-byte record plus a ring of 100 slots x 8 bytes + 16 (size class 896).
    expect(perChannel).toBe(512 + 896);
    // Bounded under churn: the incremental sweep reclaims idle channels as new ones come.
    expect(mid.names).toBeLessThan(CHANNELS / 4);
    layer.reclaim();
    const after = layer.memoryStats();
    expect(after.records).toBe(0);
    expect(after.freeBytes + after.pooledRecords * after.recordBytes).toBe(before.freeBytes);
    // The reclaimed records go back to the arena once both instances announced a later epoch
    // (their timers, every 100 ms, once this loop lets the event loop run).
    await new Promise((r) => setTimeout(r, 400));
    layer.reclaim();
    const settled = layer.memoryStats();
    expect({ free: settled.freeBytes, pooled: settled.pooledRecords }).toEqual({ free: before.freeBytes, pooled: 0 });
    console.log(
      `${CHANNELS} channels: ${perChannel} shared bytes per idle channel (record + ring of capacity 100); ` +
        `at most ${Math.max(peakNames, mid.names)} names alive at once (sampled) thanks to reclamation; ` +
        `${after.pooledRecords} records (${(after.pooledRecords * after.recordBytes / 1024).toFixed(0)} KiB) waited for their grace period after reclaiming all, none 400 ms later`,
    );
    await peer.close();
    await layer.close();
  }, 120_000);

  it('reclaims groups and their member channels once the members expire (groupExpiry)', async () => {
    const layer: SharedLayer = await createLayer({ memory: 8 * 1024 * 1024, groupExpiry: 0.05 });
    const before = layer.memoryStats();
    for (let i = 0; i < 50; i++) await layer.groupAdd(`room.${i % 5}`, `member.${i}`);
    expect(layer.memoryStats().records).toBe(55);
    layer.reclaim(); // members are fresh: nothing to reclaim
    expect(layer.memoryStats().records).toBe(55);
    await new Promise((r) => setTimeout(r, 120));
    layer.reclaim(); // the sweep drops the expired members, then the now unused records
    const after = layer.memoryStats();
    expect(after.records).toBe(0);
    expect(after.freeBytes + after.pooledRecords * after.recordBytes).toBe(before.freeBytes);
    await layer.close();
  });

  it('frees the channel of a client that went away once its last messages expire', async () => {
    const layer: SharedLayer = await createLayer({ memory: 8 * 1024 * 1024, expiry: 0.05 });
    const before = layer.memoryStats();
    for (let i = 0; i < 20; i++) await layer.send(`gone.${i}`, { i, pad: 'x'.repeat(100 * i) });
    layer.reclaim(); // the messages are fresh: nothing goes
    expect(layer.memoryStats().records).toBe(20);
    await new Promise((r) => setTimeout(r, 100));
    layer.reclaim();
    const after = layer.memoryStats();
    expect(after.records).toBe(0);
    expect(after.freeBytes + after.pooledRecords * after.recordBytes).toBe(before.freeBytes);
    expect(layer.stats().expired).toBe(20);
    await layer.close();
  });
});
