/**
 * The pieces of the wire format on their own, checked against Python where Python is the
 * reference: zlib CRC-32 and channels_redis' shard choice, Fernet tokens (cryptography),
 * the splicing of the routing field, and score order.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../dist/index.js';
import { crc32, shardIndex } from '../../dist/redis/crc32.js';
import { Fernet, InvalidToken, MultiFernet } from '../../dist/redis/fernet.js';
import { makeMember, nextScore, unpackMember, withRouting } from '../../dist/redis/wire.js';
import { PYTHON, havePythonChannelsRedis, redisTestsEnabled } from './server.js';

/** Python checks run when channels_redis is there (in CI it must be: redisTestsEnabled throws). */
const withPython = havePythonChannelsRedis || redisTestsEnabled(true);

/** Run a Python snippet with the Python that has channels_redis (server.ts); `input` arrives as JSON in the variable `data`. */
function python(code: string, input: unknown): unknown {
  const script = `import json, sys\ndata = json.loads(sys.stdin.read())\n${code}`;
  const r = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

const NAMES = [
  '',
  'a',
  'chat.lobby',
  'specific.0123456789abcdef!',
  'x'.repeat(99),
  'ünïcödé ✓ 🚀',
  ...Array.from({ length: 300 }, (_, i) => `group.${i}.${(i * 7919).toString(36)}`),
];

describe('crc32 and sharding', () => {
  it('is zlib CRC-32', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32('')).toBe(0);
    expect(crc32(new Uint8Array([0xff, 0x00]))).toBe(crc32(Buffer.from([0xff, 0x00])));
  });

  it('gives one host index 0 and spreads over n hosts', () => {
    for (const n of [1, 2, 3, 5]) {
      const seen = new Set(NAMES.map((name) => shardIndex(name, n)));
      expect(Math.max(...seen)).toBeLessThan(n);
      expect(seen.size).toBe(n);
    }
  });

  it.runIf(withPython)('matches binascii.crc32 and channels_redis _consistent_hash', () => {
    const theirs = python(
      `import binascii\nfrom channels_redis.utils import _consistent_hash\n` +
        `print(json.dumps({"crc": [binascii.crc32(v.encode("utf8")) for v in data],` +
        ` "rings": {str(n): [_consistent_hash(v, n) for v in data] for n in range(1, 8)}}))`,
      NAMES,
    ) as { crc: number[]; rings: Record<string, number[]> };
    expect(NAMES.map((v) => crc32(v))).toEqual(theirs.crc);
    for (let n = 1; n < 8; n++) expect(NAMES.map((v) => shardIndex(v, n))).toEqual(theirs.rings[String(n)]);
  });
});

describe('fernet', () => {
  const data = Buffer.from('msgpack bytes \x00\xff and more');

  it('round-trips, and refuses a tampered token, a foreign key and a stale token', () => {
    const key = Fernet.fromSecret('secret');
    const token = key.encrypt(data);
    expect(key.decrypt(token)).toEqual(data);
    const tampered = Buffer.from(token);
    tampered[20] = tampered[20] === 0x41 ? 0x42 : 0x41;
    expect(() => key.decrypt(tampered)).toThrow(InvalidToken);
    expect(() => Fernet.fromSecret('other').decrypt(token)).toThrow(/signature/);
    const old = key.encrypt(data, Date.now() / 1000 - 100);
    expect(() => key.decrypt(old, 70)).toThrow(/expired/);
    expect(key.decrypt(old, 200)).toEqual(data);
  });

  it('tries every key of a MultiFernet, encrypting with the first', () => {
    const multi = new MultiFernet([Fernet.fromSecret('new'), Fernet.fromSecret('old')]);
    expect(multi.decrypt(Fernet.fromSecret('old').encrypt(data))).toEqual(data);
    expect(Fernet.fromSecret('new').decrypt(multi.encrypt(data))).toEqual(data);
    expect(() => multi.decrypt(Fernet.fromSecret('neither').encrypt(data))).toThrow(InvalidToken);
  });

  it.runIf(withPython)('reads and writes the tokens of Python cryptography, keyed as channels_redis keys them', () => {
    const ours = Fernet.fromSecret('shared secret ✓').encrypt(data).toString('ascii');
    const result = python(
      `import base64\nfrom channels_redis.core import RedisChannelLayer\n` +
        `layer = RedisChannelLayer(symmetric_encryption_keys=["shared secret \\u2713"])\n` +
        `plain = layer.crypter.decrypt(data.encode("ascii"), 70)\n` +
        `theirs = layer.crypter.encrypt(b"from python \\x00\\xff").decode("ascii")\n` +
        `print(json.dumps({"plain": base64.b64encode(plain).decode(), "theirs": theirs}))`,
      ours,
    ) as { plain: string; theirs: string };
    expect(Buffer.from(result.plain, 'base64')).toEqual(data);
    expect(Fernet.fromSecret('shared secret ✓').decrypt(Buffer.from(result.theirs, 'ascii'), 70)).toEqual(
      Buffer.from('from python \x00\xff', 'latin1'),
    );
  });
});

describe('member bytes', () => {
  it('splices __asgi_channel__ onto maps of every header size', () => {
    // fixmap up to 15 entries, map16 up to 65535, map32 beyond: the count grows by one.
    for (const size of [0, 1, 14, 15, 16, 100, 65535]) {
      const message: Record<string, number> = {};
      for (let i = 0; i < size; i++) message[`k${i}`] = i;
      for (const route of ['a.b!c', ['x!1', 'x!2']]) {
        // encode() refuses the routing field in a message: check the splice byte by byte instead.
        const body = Buffer.from(encode(message));
        const spliced = withRouting(body, route);
        const headerOf = (n: number) => (n < 16 ? 1 : n < 0x10000 ? 3 : 5);
        expect(spliced[0]).toBe(size + 1 < 16 ? 0x80 | (size + 1) : size + 1 < 0x10000 ? 0xde : 0xdf);
        const at = headerOf(size + 1);
        expect(Buffer.from(spliced.subarray(at, at + body.length - headerOf(size))).equals(body.subarray(headerOf(size)))).toBe(true);
        expect(decode(spliced)).toEqual({ ...message, __asgi_channel__: route });
      }
    }
  });

  it('prefixes 12 random bytes and strips them and the routing field on the way back', () => {
    const body = withRouting(encode({ type: 't', n: 1 }), ['a!1', 'a!2']);
    const [m1, m2] = [makeMember(body, null), makeMember(body, null)];
    expect(m1.subarray(12)).toEqual(m2.subarray(12));
    expect(m1.subarray(0, 12)).not.toEqual(m2.subarray(0, 12));
    expect(unpackMember(m1, null, 70)).toEqual({ message: { type: 't', n: 1 }, channels: ['a!1', 'a!2'] });
    const key = new MultiFernet([Fernet.fromSecret('k')]);
    expect(unpackMember(makeMember(body, key), key, 70).message).toEqual({ type: 't', n: 1 });
    expect(() => unpackMember(makeMember(body, key), null, 70)).toThrow();
    expect(() => unpackMember(Buffer.alloc(12), null, 70)).toThrow(/too short/);
  });

  it('gives strictly increasing scores close to the wall clock', () => {
    let last = 0;
    for (let i = 0; i < 10_000; i++) {
      const s = nextScore();
      expect(s).toBeGreaterThan(last);
      last = s;
    }
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(1);
  });
});
