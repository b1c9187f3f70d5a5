/**
 * Interoperability with the real Python package: Debian's python3-channels-redis (4.x)
 * and a real redis-server. Node and Python layers share one Redis (or a ring of two) and
 * exchange messages both ways, on plain and `!` channels, through groups, with encryption.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { ChannelFull, createLayer, type ChannelLayer, type Message } from '../../dist/index.js';
import { shardIndex } from '../../dist/redis/crc32.js';
import { PythonPeer, PythonError } from './python.js';
import { redisTestsEnabled, useRedisServer } from './server.js';

const enabled = redisTestsEnabled(true);

/** The values of SAMPLE in python/peer.py, as Node holds them. */
const NODE_SAMPLE: Message = {
  type: 'interop.sample',
  text: 'héllo wörld — 你好 🚀',
  empty: '',
  bytes: new Uint8Array([0, 1, 2, 127, 128, 254, 255]),
  empty_bytes: new Uint8Array(0),
  int: 42,
  negative: -17,
  zero: 0,
  int32max: 2147483647,
  uint32: 4294967295,
  timestamp: 1764471234567, // a safe integer beyond 32 bits: an int in Python, a number in Node
  big: 2n ** 62n + 1n,
  big_unsigned: 2n ** 64n - 1n,
  big_negative: -(2n ** 63n),
  float: 0.1,
  neg_float: -2.5e-8,
  yes: true,
  no: false,
  nothing: null,
  list: [1, 'two', [3.5, new Uint8Array([4])], { k: 'v' }],
  empty_list: [],
  nested: { deep: { deeper: [true, false, null] }, ünï: 'çödé' },
};

let serial = 0;
const fresh = (base = 'interop') => `${base}.${process.pid}.${serial++}`;

describe.runIf(enabled)('interop with Python channels_redis', () => {
  // One server for the single-server tests, two more for the ring of two.
  const servers = [useRedisServer(), useRedisServer(), useRedisServer()];
  const closers: Array<() => Promise<void>> = [];
  // Registered after the servers', so it runs before they stop (afterAll hooks run in reverse).
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });

  /** A Node layer and a Python layer with the same settings. */
  async function pair(
    options: { hosts?: string[]; prefix?: string; capacity?: number; keys?: string[]; pythonKeys?: string[] } = {},
  ): Promise<[ChannelLayer, PythonPeer]> {
    const hosts = options.hosts ?? [servers[0]!.url];
    const prefix = options.prefix ?? 'asgi';
    const capacity = options.capacity ?? 100;
    const node = await createLayer({
      backend: 'redis',
      hosts,
      prefix,
      capacity,
      ...(options.keys ? { symmetricEncryptionKeys: options.keys } : {}),
    });
    const python = await PythonPeer.start({
      hosts,
      prefix,
      capacity,
      ...(options.pythonKeys ?? options.keys ? { symmetric_encryption_keys: options.pythonKeys ?? options.keys } : {}),
    });
    closers.push(() => node.close(), () => python.close());
    return [node, python];
  }

  describe('one redis-server, default prefix', () => {
    let node: ChannelLayer;
    let python: PythonPeer;
    beforeAll(async () => {
      [node, python] = await pair();
    });

    it('Node sends every value type on a plain channel, Python receives them with the right Python types', async () => {
      const ch = fresh();
      await node.send(ch, NODE_SAMPLE);
      const { message, sampleDiff } = await python.receive(ch);
      expect(sampleDiff).toBeNull();
      expect(message.type).toBe('interop.sample');
    });

    it('Python sends every value type on a plain channel, Node receives them exactly', async () => {
      const ch = fresh();
      await python.send(ch, { n: 1 }, true);
      const got = await node.receive(ch, { timeout: 5000 });
      expect(got).toEqual({ ...NODE_SAMPLE, n: 1 });
      expect(typeof got.big).toBe('bigint');
      expect(typeof got.timestamp).toBe('number');
      expect((got.bytes as Uint8Array).constructor).toBe(Uint8Array);
      expect(typeof got.float).toBe('number');
    });

    it('Node sends to a Python process-specific channel', async () => {
      const theirs = await python.newChannel();
      await node.send(theirs, NODE_SAMPLE);
      const { sampleDiff } = await python.receive(theirs);
      expect(sampleDiff).toBeNull();
    });

    it('Python sends to a Node process-specific channel', async () => {
      const mine = await node.newChannel();
      await python.send(mine, { n: 2 }, true);
      expect(await node.receive(mine, { timeout: 5000 })).toEqual({ ...NODE_SAMPLE, n: 2 });
    });

    it('keeps FIFO order in both directions', async () => {
      const ch = fresh();
      for (let i = 0; i < 20; i++) await node.send(ch, { type: 'seq', i });
      const got = await python.call<Array<{ i: number }>>('receive_many', { channel: ch, count: 20 });
      expect(got.map((m) => m.i)).toEqual([...Array(20).keys()]);
      const back = fresh();
      await python.call('send_many', { channel: back, count: 20 });
      for (let i = 0; i < 20; i++) expect(await node.receive(back, { timeout: 5000 })).toEqual({ type: 'seq', i });
    });

    it('sendMany and receiveMany use the channels_redis format: Python reads the batches, Node batches what Python sent', async () => {
      const ch = fresh();
      await node.sendMany(ch, Array.from({ length: 20 }, (_, i) => ({ type: 'seq', i })));
      const got = await python.call<Array<{ i: number }>>('receive_many', { channel: ch, count: 20 });
      expect(got.map((m) => m.i)).toEqual([...Array(20).keys()]);
      const theirs = await python.newChannel();
      await node.sendMany(theirs, [NODE_SAMPLE, NODE_SAMPLE]);
      expect((await python.receive(theirs)).sampleDiff).toBeNull();
      expect((await python.receive(theirs)).sampleDiff).toBeNull();
      const back = fresh();
      await python.call('send_many', { channel: back, count: 20 });
      const batch: Message[] = [];
      while (batch.length < 20) batch.push(...(await node.receiveMany(back, { max: 7, timeout: 5000 })));
      expect(batch).toEqual(Array.from({ length: 20 }, (_, i) => ({ type: 'seq', i })));
      const mine = await node.newChannel();
      await python.send(mine, { n: 3 }, true);
      expect(await node.receiveMany(mine, { timeout: 5000 })).toEqual([{ ...NODE_SAMPLE, n: 3 }]);
    });

    it('Python group_add + group_send reaches Node channels (plain and process-specific)', async () => {
      const group = fresh('group');
      const plain = fresh();
      const [mine1, mine2] = [await node.newChannel(), await node.newChannel()];
      const pythons = await python.newChannel();
      for (const ch of [plain, mine1, mine2, pythons]) await python.groupAdd(group, ch);
      await python.groupSend(group, { to: 'all' }, true);
      const want = { ...NODE_SAMPLE, to: 'all' };
      expect(await node.receive(plain, { timeout: 5000 })).toEqual(want);
      expect(await node.receive(mine1, { timeout: 5000 })).toEqual(want);
      expect(await node.receive(mine2, { timeout: 5000 })).toEqual(want);
      expect((await python.receive(pythons)).sampleDiff).toBeNull();
    });

    it('Node groupAdd + groupSend reaches Python channels, two of one owner sharing one stored message', async () => {
      const group = fresh('group');
      const [p1, p2] = [await python.newChannel(), await python.newChannel()];
      const plain = fresh();
      const mine = await node.newChannel();
      for (const ch of [p1, p2, plain, mine]) await node.groupAdd(group, ch);
      await node.groupSend(group, NODE_SAMPLE);
      expect((await python.receive(p1)).sampleDiff).toBeNull();
      expect((await python.receive(p2)).sampleDiff).toBeNull();
      expect((await python.receive(plain)).sampleDiff).toBeNull();
      expect(await node.receive(mine, { timeout: 5000 })).toEqual(NODE_SAMPLE);
    });

    it('groups are shared: Node adds, Python discards, Node sends', async () => {
      const group = fresh('group');
      const [a, b] = [fresh('a'), fresh('b')];
      await node.groupAdd(group, a);
      await node.groupAdd(group, b);
      await python.call('group_discard', { group, channel: a });
      await node.groupSend(group, { n: 3 });
      expect(await node.receive(b, { timeout: 5000 })).toEqual({ n: 3 });
      await expect(node.receive(a, { timeout: 100 })).rejects.toMatchObject({ code: 'ERR_RINGBUS_TIMEOUT' });
    });
  });

  it('shares capacity: messages from either side count against one limit', async () => {
    const [node, python] = await pair({ prefix: 'cap:', capacity: 3 });
    const ch = fresh();
    await python.send(ch, { from: 'python' });
    await python.send(ch, { from: 'python' });
    await node.send(ch, { from: 'node' });
    await expect(node.send(ch, { from: 'node' })).rejects.toBeInstanceOf(ChannelFull);
    const err = await python.send(ch, { from: 'python' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PythonError);
    expect((err as PythonError).type).toBe('ChannelFull');
    expect(await node.receive(ch)).toEqual({ from: 'python' });
    await python.send(ch, { from: 'python again' });
  });

  describe('two redis-servers (sharding)', () => {
    let node: ChannelLayer;
    let python: PythonPeer;
    let direct: Redis[];
    beforeAll(async () => {
      const hosts = [servers[1]!.url, servers[2]!.url];
      [node, python] = await pair({ hosts, prefix: 'ring:' });
      direct = hosts.map((h) => new Redis(h));
      closers.push(async () => {
        for (const r of direct) r.disconnect();
      });
    });

    it('computes the same shard as channels_redis for any name', async () => {
      const values = ['a', 'chat.lobby', 'specific.abc!', 'x'.repeat(99), 'ünï', ...Array.from({ length: 200 }, (_, i) => `g.${i}`)];
      const theirs = await python.call<number[]>('consistent_hash', { values });
      expect(values.map((v) => shardIndex(v, 2))).toEqual(theirs);
    });

    it('stores a group where channels_redis looks for it, and both sides reach members on both servers', async () => {
      const group = fresh('group');
      const members = Array.from({ length: 8 }, (_, i) => fresh(`m${i}`));
      for (const ch of members) await node.groupAdd(group, ch);
      const home = shardIndex(group, 2);
      expect(await direct[home]!.exists(`ring::group:${group}`)).toBe(1);
      expect(await direct[1 - home]!.exists(`ring::group:${group}`)).toBe(0);
      await python.groupSend(group, { from: 'python' });
      for (const ch of members) expect(await node.receive(ch, { timeout: 5000 })).toEqual({ from: 'python' });
      // Members spread over both servers (the hash of each name decides).
      expect(new Set(members.map((m) => shardIndex(m, 2))).size).toBe(2);
      const pyMembers = [await python.newChannel(), await python.newChannel()];
      const pyGroup = fresh('pygroup');
      for (const ch of pyMembers) await python.groupAdd(pyGroup, ch);
      await node.groupSend(pyGroup, { from: 'node' });
      for (const ch of pyMembers) expect((await python.receive(ch)).message).toEqual({ from: 'node' });
    });

    it('Node reads plain channels on every server; Python round-robins its sends over them', async () => {
      const ch = fresh();
      for (let i = 0; i < 6; i++) await python.send(ch, { i });
      const got: number[] = [];
      for (let i = 0; i < 6; i++) got.push((await node.receive(ch, { timeout: 5000 })).i as number);
      expect(got.sort()).toEqual([0, 1, 2, 3, 4, 5]);
      const back = fresh();
      await node.send(back, { i: 0 });
      await node.send(back, { i: 1 });
      expect(await direct[0]!.zcard(`ring:${back}`)).toBe(1);
      expect(await direct[1]!.zcard(`ring:${back}`)).toBe(1);
      const mine = (await python.call<Array<{ i: number }>>('receive_many', { channel: back, count: 2 })).map((m) => m.i);
      expect(mine.sort()).toEqual([0, 1]);
    });

    it('sends to a Python process-specific channel on the server its owner listens on (channels_redis issue #221)', async () => {
      // A channel whose full name and owner part hash to different servers: channels_redis
      // itself would send it where its receiver never looks.
      let theirs = await python.newChannel();
      while (shardIndex(theirs, 2) === shardIndex(theirs.slice(0, theirs.indexOf('!') + 1), 2)) {
        theirs = await python.newChannel();
      }
      await node.send(theirs, NODE_SAMPLE);
      expect((await python.receive(theirs)).sampleDiff).toBeNull();
    });

    it('Python reaches a Node process-specific channel directly on the ring (names chosen to hash where they are read)', async () => {
      for (let i = 0; i < 8; i++) {
        const mine = await node.newChannel();
        const owner = mine.slice(0, mine.indexOf('!') + 1);
        expect(shardIndex(mine, 2)).toBe(shardIndex(owner, 2));
        await python.send(mine, { direct: i });
        expect(await node.receive(mine, { timeout: 5000 })).toEqual({ direct: i });
      }
    });

    it('Python reaches a Node process-specific channel through a group on the ring', async () => {
      const group = fresh('group');
      const mine = await node.newChannel();
      await python.groupAdd(group, mine);
      await python.groupSend(group, { via: 'group' });
      expect(await node.receive(mine, { timeout: 5000 })).toEqual({ via: 'group' });
    });

    it('flush empties the layer keys on both servers', async () => {
      await node.send(fresh(), { a: 1 });
      await node.send(fresh(), { a: 2 });
      await node.flush();
      for (const r of direct) expect(await r.keys('ring:*')).toEqual([]);
    });
  });

  describe('encryption (Fernet, symmetric_encryption_keys)', () => {
    it('exchanges encrypted messages both ways, and stores no plaintext', async () => {
      const [node, python] = await pair({ prefix: 'enc:', keys: ['top secret', 'older key'] });
      const ch = fresh();
      await node.send(ch, { ...NODE_SAMPLE, secret: 'plaintext-marker' });
      const raw = new Redis(servers[0]!.url);
      try {
        const [member] = await raw.zrangeBuffer(`enc:${ch}`, 0, -1);
        expect(member!.includes(Buffer.from('plaintext-marker'))).toBe(false);
        expect(member!.subarray(12, 14).toString()).toBe('gA'); // base64 of Fernet's 0x80 version byte
      } finally {
        raw.disconnect();
      }
      const { message, sampleDiff } = await python.receive(ch);
      expect(sampleDiff).toBeNull();
      expect(message.secret).toBe('plaintext-marker');

      const back = await node.newChannel();
      await python.send(back, { n: 1 }, true);
      expect(await node.receive(back, { timeout: 5000 })).toEqual({ ...NODE_SAMPLE, n: 1 });
    });

    it('decrypts with any configured key (rotation), and drops what no key opens', async () => {
      const [node, python] = await pair({ prefix: 'rot:', keys: ['new key', 'old key'], pythonKeys: ['old key'] });
      const ch = fresh();
      await python.send(ch, { rotated: true });
      expect(await node.receive(ch, { timeout: 5000 })).toEqual({ rotated: true });

      const [, stranger] = await pair({ prefix: 'rot:', keys: ['new key'], pythonKeys: ['unknown key'] });
      await stranger.send(ch, { unreadable: true });
      await python.send(ch, { readable: true });
      const dropped = node.stats().dropped;
      expect(await node.receive(ch, { timeout: 5000 })).toEqual({ readable: true });
      expect(node.stats().dropped).toBe(dropped + 1);
    });
  });
});
