/**
 * Two Node "machines" (child processes, each a hybrid layer with two worker threads on its
 * bus), one real redis-server and a real Python channels_redis process, all on one prefix:
 * direct sends between every pair of parties, a group spanning all of them, a plain channel
 * consumed by workers of both machines, and a machine that goes away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../dist/index.js';
import { PythonPeer } from '../redis/python.js';
import { redisTestsEnabled, useRedisServer } from '../redis/server.js';
import { Machine } from './machines.js';

const enabled = redisTestsEnabled(true);
const PREFIX = `hybm${process.pid}:`;
/** Short enough for the "machine goes away" case to see its members expire. */
const GROUP_EXPIRY = 6;

interface Party {
  name: string;
  channel: string;
  send(channel: string, message: Message): Promise<void>;
  /** Resolves with the message, or null when none came within `ms`. */
  receive(channel: string, ms: number): Promise<Message | null>;
  groupAdd(group: string, channel: string): Promise<void>;
  groupSend(group: string, message: Message): Promise<void>;
}

function nodeParty(name: string, machine: Machine, target: number): Party {
  return {
    name,
    channel: '',
    send: (channel, message) => machine.call(target, 'send', { channel, message }),
    receive: (channel, ms) =>
      machine.call<Message>(target, 'receive', { channel, timeout: ms }).catch((err: Error) => {
        if (/TimeoutError/.test(err.message)) return null;
        throw err;
      }),
    groupAdd: (group, channel) => machine.call(target, 'groupAdd', { group, channel }),
    groupSend: (group, message) => machine.call(target, 'groupSend', { group, message }),
  };
}

function pythonParty(peer: PythonPeer): Party {
  return {
    name: 'python',
    channel: '',
    send: (channel, message) => peer.send(channel, message),
    receive: (channel, ms) =>
      peer.receive(channel, ms / 1000).then(
        (r) => r.message,
        (err: Error) => {
          if (/Timeout|CancelledError/.test(err.message)) return null;
          throw err;
        },
      ),
    groupAdd: (group, channel) => peer.groupAdd(group, channel),
    groupSend: (group, message) => peer.groupSend(group, message),
  };
}

describe.runIf(enabled)('hybrid: two machines, two workers each, and Python channels_redis', () => {
  const redis = useRedisServer();
  let python: PythonPeer;
  const machines: Machine[] = [];
  const parties: Party[] = [];

  beforeAll(async () => {
    const options = { hosts: [redis.url], prefix: PREFIX, groupExpiry: GROUP_EXPIRY, capacity: 1000, memory: 8 * 1024 * 1024 };
    machines.push(...(await Promise.all([Machine.start(2, options), Machine.start(2, options)])));
    python = await PythonPeer.start({ hosts: [redis.url], prefix: PREFIX, group_expiry: GROUP_EXPIRY, capacity: 1000 });
    machines.forEach((m, i) => {
      parties.push(nodeParty(`machine ${i} worker 0`, m, 0), nodeParty(`machine ${i} worker 1`, m, 1));
    });
    parties.push(pythonParty(python));
    for (const [i, party] of parties.entries()) {
      party.channel = i < 4 ? await (machines[i >> 1] as Machine).call<string>(i & 1, 'newChannel') : await python.newChannel();
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(machines.map((m) => m.close()));
    await python?.close();
  });

  it("names each machine's channels after its bus", () => {
    for (let i = 0; i < 4; i++) {
      expect(parties[i]!.channel).toMatch(new RegExp(`^specific\\.${machines[i >> 1]!.bus}!`));
    }
  });

  it('delivers a direct send between every pair of parties', async () => {
    await Promise.all(
      parties.flatMap((from, i) =>
        parties.map((to, j) => (i === j ? undefined : from.send(to.channel, { type: 'direct', from: i, to: j }))),
      ),
    );
    for (const [j, party] of parties.entries()) {
      const got: number[] = [];
      for (let k = 0; k < parties.length - 1; k++) {
        const m = await party.receive(party.channel, 10_000);
        expect(m, `${party.name}: message ${k + 1} of ${parties.length - 1}`).not.toBeNull();
        expect((m as { to: number }).to).toBe(j);
        got.push((m as { from: number }).from);
      }
      expect(got.sort()).toEqual(parties.map((_, i) => i).filter((i) => i !== j));
      expect(await party.receive(party.channel, 200), `${party.name}: nothing more`).toBeNull();
    }
  }, 120_000);

  it('delivers every group message to every member exactly once', async () => {
    const group = 'everyone';
    for (const party of parties) await party.groupAdd(group, party.channel);
    for (const [i, party] of parties.entries()) await party.groupSend(group, { type: 'group', from: i });
    for (const party of parties) {
      const got: number[] = [];
      for (let k = 0; k < parties.length; k++) {
        const m = await party.receive(party.channel, 10_000);
        expect(m, `${party.name}: group message ${k + 1} of ${parties.length}`).not.toBeNull();
        got.push((m as { from: number }).from);
      }
      expect(got.sort()).toEqual(parties.map((_, i) => i));
      expect(await party.receive(party.channel, 300), `${party.name}: no second copy`).toBeNull();
    }
  }, 120_000);

  it('shares a plain channel between the workers of both machines: every message once', async () => {
    const channel = `jobs.${process.pid}`;
    const drains = machines.flatMap((m) => [0, 1].map((w) => m.call<Array<{ n: number }>>(w, 'drain', { channel, idleMs: 1500 })));
    for (const d of drains) d.catch(() => undefined); // awaited below; a failed send must not leave them unhandled
    const total = 400;
    await Promise.all(
      Array.from({ length: total }, (_, n) => (parties[n % parties.length] as Party).send(channel, { type: 'job', n })),
    );
    const got = await Promise.all(drains);
    const all = got.flat().map((m) => m.n).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: total }, (_, n) => n));
    // Both machines took part (their workers all waited before the first send).
    expect(got[0]!.length + got[1]!.length).toBeGreaterThan(0);
    expect(got[2]!.length + got[3]!.length).toBeGreaterThan(0);
  }, 120_000);

  it('keeps every message and each producer\'s order through the bus router under load', async () => {
    // Three producers (two on the other machine, one on the same machine) into one channel
    // of machine 0, worker 0, while it drains: 3 x 300 messages, within the channel's
    // capacity (1000), so that none may be missed (beyond it, the router drops what finds the
    // local channel full: test/hybrid/layer.test.ts).
    const target = parties[0]!.channel;
    const count = 300;
    const drain = machines[0]!.call<Array<{ from: number; seq: number }>>(0, 'drain', { channel: target, idleMs: 3000 });
    drain.catch(() => undefined);
    await Promise.all([
      machines[1]!.call(0, 'sendSeq', { channel: target, count, from: 2 }),
      machines[1]!.call(1, 'sendSeq', { channel: target, count, from: 3 }),
      machines[0]!.call(1, 'sendSeq', { channel: target, count, from: 1 }),
    ]);
    const got = await drain;
    for (const from of [1, 2, 3]) {
      const seqs = got.filter((m) => m.from === from).map((m) => m.seq);
      expect(seqs, `producer ${from}`).toEqual(Array.from({ length: count }, (_, i) => i));
    }
    expect(got.length).toBe(3 * count);
  }, 180_000);

  it('lets a machine go away: its members expire from the group and nobody hangs', async () => {
    const group = 'survivors';
    for (const party of parties) await party.groupAdd(group, party.channel);
    const gone = machines[1] as Machine;
    await gone.kill();
    // Sends to the dead machine's channels neither fail nor hang (they wait in its Redis key
    // until they expire); a group send still reaches everyone alive.
    await parties[0]!.send(parties[2]!.channel, { type: 'to the dead' });
    await parties[0]!.groupSend(group, { type: 'group', n: 1 });
    for (const i of [0, 1, 4]) expect(await parties[i]!.receive(parties[i]!.channel, 10_000)).toMatchObject({ n: 1 });
    // After groupExpiry the living re-add themselves (as consumers do); the dead do not.
    await new Promise((resolve) => setTimeout(resolve, GROUP_EXPIRY * 1000 + 500));
    for (const i of [0, 1, 4]) await parties[i]!.groupAdd(group, parties[i]!.channel);
    await parties[4]!.groupSend(group, { type: 'group', n: 2 });
    for (const i of [0, 1, 4]) expect(await parties[i]!.receive(parties[i]!.channel, 10_000)).toMatchObject({ n: 2 });
    const members = await redis.raw.zrange(`${PREFIX}:group:${group}`, 0, -1);
    expect(members.sort()).toEqual([0, 1, 4].map((i) => parties[i]!.channel).sort());
  }, 120_000);
});
