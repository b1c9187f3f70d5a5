/**
 * Concurrent group churn: two threads add and discard members while two other threads
 * groupSend. Each operation is stamped with a shared logical clock, so for every message
 * and every churned channel we know whether the channel was surely a member for the whole
 * send (it must get the message), surely not a member at any time during it (it must not),
 * or neither (either is right). Also: stable members get every message once, in order; and
 * once everything is discarded, drained and reclaimed, every arena byte is back.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLayer, type Message, type SharedLayer } from '../../dist/index.js';

const SENDERS = 2;
const PER_SENDER = 10_000;
const STABLE = ['churn.stable.0', 'churn.stable.1', 'churn.stable.2', 'churn.stable.3'];
const CHURNED = Array.from({ length: 8 }, (_, i) => `churn.member.${i}`);
const GROUP = 'churn.group';

function start<T>(workerData: unknown): Promise<T> {
  const worker = new Worker(new URL('./churn-worker.js', import.meta.url), { workerData });
  return new Promise<T>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

async function drain(layer: SharedLayer, channel: string): Promise<Message[]> {
  const out: Message[] = [];
  for (;;) {
    try {
      out.push(await layer.receive(channel, { timeout: 0 }));
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_RINGBUS_TIMEOUT') return out;
      throw err;
    }
  }
}

describe('groups under concurrent churn', () => {
  it('delivers each message to exactly the members present for the whole send, and leaks nothing', async () => {
    const layer: SharedLayer = await createLayer({ memory: 64 * 1024 * 1024, capacity: 100_000 });
    const before = layer.memoryStats();
    for (const ch of STABLE) await layer.groupAdd(GROUP, ch);
    const clock = new Int32Array(new SharedArrayBuffer(8));
    clock[0] = 1;
    clock[1] = SENDERS;
    const churners = [0, 1].map((id) =>
      start<{ intervals: Record<string, number[][]>; rounds: number }>({
        handle: layer.handle, role: 'churner', id, group: GROUP, channels: CHURNED.filter((_, i) => i % 2 === id), clock: clock.buffer,
      }),
    );
    const senders = Array.from({ length: SENDERS }, (_, id) =>
      start<{ stamps: Int32Array }>({ handle: layer.handle, role: 'sender', id, group: GROUP, count: PER_SENDER, clock: clock.buffer }),
    );
    const sent = await Promise.all(senders);
    const churned = await Promise.all(churners);
    const intervals: Record<string, number[][]> = Object.assign({}, ...churned.map((c) => c.intervals));

    for (const ch of STABLE) {
      const got = await drain(layer, ch);
      expect(got.length).toBe(SENDERS * PER_SENDER);
      const next = new Array(SENDERS).fill(0);
      for (const m of got) {
        expect(m.seq).toBe(next[m.sender as number]);
        next[m.sender as number]++;
      }
    }
    let must = 0;
    let mustNot = 0;
    let either = 0;
    const problems: string[] = [];
    for (const ch of CHURNED) {
      const got = await drain(layer, ch);
      const have = new Set<string>();
      for (const m of got) {
        const key = `${m.sender}:${m.seq}`;
        if (have.has(key)) problems.push(`${ch}: duplicate ${key}`);
        have.add(key);
      }
      for (let s = 0; s < SENDERS; s++) {
        const stamps = sent[s]!.stamps;
        for (let seq = 0; seq < PER_SENDER; seq++) {
          const t0 = stamps[seq * 2]!;
          const t1 = stamps[seq * 2 + 1]!;
          const present = intervals[ch]!.some(([, inAt, out]) => inAt! < t0 && t1 < out!);
          const absent = intervals[ch]!.every(([addStart, , , gone]) => t1 < addStart! || t0 > gone!);
          const got1 = have.has(`${s}:${seq}`);
          if (present) {
            must++;
            if (!got1) problems.push(`${ch}: missed ${s}:${seq} though a member for the whole send`);
          } else if (absent) {
            mustNot++;
            if (got1) problems.push(`${ch}: got ${s}:${seq} though not a member at any time of the send`);
          } else either++;
        }
      }
    }
    expect(problems.slice(0, 10)).toEqual([]);
    // The test means something only if both kinds of certainty occurred often.
    expect(must).toBeGreaterThan(100);
    expect(mustNot).toBeGreaterThan(100);
    console.log(
      `group churn: ${churned.reduce((n, c) => n + c.rounds, 0)} churn rounds; per churned channel and message: ` +
        `${must} surely member, ${mustNot} surely not, ${either} overlapping an add or discard`,
    );

    // No leak: discard everything, reclaim, and every byte is free again (or a pooled record).
    for (const ch of STABLE) await layer.groupDiscard(GROUP, ch);
    layer.reclaim();
    const after = layer.memoryStats();
    expect(after.records).toBe(0);
    expect(after.freeBytes + after.pooledRecords * after.recordBytes).toBe(before.freeBytes);
    await layer.close();
  }, 180_000);
});
