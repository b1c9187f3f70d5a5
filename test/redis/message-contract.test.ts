/**
 * The message contract across the wire to the real Python channels_redis (Debian's
 * python3-channels-redis and a real redis-server): what Python writes that JSON cannot say
 * (bytes keys, NaN, infinities, -0.0) reaches Node as documented, Node's non-finite numbers
 * and -0 reach Python as floats, lone surrogates never leave Node, and what Node cannot
 * deliver unchanged is counted and logged, never dropped silently.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLayer, TimeoutError, type ChannelLayer } from '../../dist/index.js';
import { PythonPeer } from './python.js';
import { redisTestsEnabled, useRedisServer } from './server.js';

const enabled = redisTestsEnabled(true);

let serial = 0;
const fresh = (base = 'contract') => `${base}.${process.pid}.${serial++}`;

describe.runIf(enabled)('message contract with Python channels_redis', () => {
  const redis = useRedisServer();
  let node: ChannelLayer;
  let python: PythonPeer;
  const prefix = `contract${process.pid}:`;

  beforeAll(async () => {
    node = await createLayer({ backend: 'redis', hosts: [redis.url], prefix });
    python = await PythonPeer.start({ hosts: [redis.url], prefix });
  });
  afterAll(async () => {
    await node?.close();
    await python?.close();
  });

  it('delivers bytes keys as the strings of their UTF-8, and integer keys as decimal strings', async () => {
    const ch = fresh();
    await python.sendSpecial(ch, 'bytes_keys');
    const got = await node.receive(ch, { timeout: 5000 });
    expect(got).toEqual({ type: 'py.bytes_keys', raw: new Uint8Array([0x76]), café: 1, '7': 'seven' });
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
  });

  it('counts and logs (never silently drops) a message whose keys clash as strings or are not UTF-8', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      for (const [special, reason] of [
        ['bytes_key_clash', /duplicate map key "a"/],
        ['bytes_key_not_utf8', /bytes key of 1 bytes that is not valid UTF-8/],
      ] as const) {
        // A layer of its own: a layer reports the first failure of a kind and counts the rest.
        const receiver = await createLayer({ backend: 'redis', hosts: [redis.url], prefix });
        try {
          const ch = fresh();
          warn.mockClear();
          await python.sendSpecial(ch, special);
          await python.send(ch, { type: 'after' });
          // The undeliverable message is skipped, counted and reported; the next one arrives.
          expect(await receiver.receive(ch, { timeout: 5000 })).toEqual({ type: 'after' });
          expect(receiver.stats().dropped).toBe(1);
          const logged = warn.mock.calls.map((c) => String(c[0])).join('\n');
          expect(logged).toMatch(reason);
        } finally {
          await receiver.close();
        }
      }
    } finally {
      warn.mockRestore();
    }
  });

  it('delivers NaN, ±inf and -0.0 from Python, and sends them back as Python floats', async () => {
    const ch = fresh();
    await python.sendSpecial(ch, 'non_finite');
    const got = await node.receive(ch, { timeout: 5000 });
    expect(got.nan).toBeNaN();
    expect(got.inf).toBe(Infinity);
    expect(got.ninf).toBe(-Infinity);
    expect(Object.is(got.nzero, -0)).toBe(true);
    const back = fresh('back');
    await node.send(back, { nan: NaN, inf: Infinity, ninf: -Infinity, nzero: -0, zero: 0, half: 0.5 });
    expect(await python.receiveFloats(back)).toEqual({
      nan: 'nan',
      inf: 'inf',
      ninf: '-inf',
      nzero: '-0.0',
      zero: 'int:0',
      half: '0.5',
    });
  });

  it('refuses a lone surrogate at send, so no Python consumer ever sees one', async () => {
    const ch = fresh();
    await expect(node.send(ch, { text: '👍'.slice(0, 1) })).rejects.toThrow(TypeError);
    await expect(node.groupSend('g', { text: ['ok', 'x\udc00'] })).rejects.toThrow(/message\.text\[1\].*lone UTF-16 surrogate/);
    await node.send(ch, { text: '👍' });
    const { message } = await python.receive(ch);
    expect(message).toEqual({ text: '👍' });
  });

  it('sends __proto__ keys that Python reads as ordinary keys, and reads them back as own properties', async () => {
    const ch = fresh();
    const m = JSON.parse('{"__proto__": {"x": 1}, "__proto_": 2, "type": "proto"}') as Record<string, unknown>;
    await node.send(ch, m as never);
    const { message } = await python.receive(ch);
    expect(Object.keys(message).sort()).toEqual(['__proto_', '__proto__', 'type']);
    const echo = fresh('echo');
    await python.send(echo, message);
    const got = await node.receive(echo, { timeout: 5000 });
    expect(Object.getOwnPropertyDescriptor(got, '__proto__')?.value).toEqual({ x: 1 });
    expect(got.__proto_).toBe(2);
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
    await expect(node.receive(echo, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
  });
});
