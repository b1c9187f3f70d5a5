/**
 * The conformance suite: the semantics of a ringbus channel layer, stated once as tests and
 * run against every backend (memory, shared in one thread, shared across threads, Redis).
 *
 * Conventions: `layer` is the instance under test; `peer` is another instance on the same
 * bus (the memory backend's peer is `layer` itself). Messages cross from `peer` to `layer`
 * wherever the direction does not matter, so that the cross-thread configuration really
 * crosses threads. Timing-dependent tests use generous margins and assert no upper bound.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Aborted,
  ChannelFull,
  LayerClosed,
  MessageTooLarge,
  NotOwner,
  MAX_MESSAGE_DEPTH,
  TimeoutError,
  encode,
  type ChannelLayer,
  type Message,
} from '../../dist/index.js';
import type { Backend } from './backend.js';
import { batchSections } from './batch.js';
import { borrowSections } from './borrow.js';
import { expectSame, messageOfSize, sweepMessages } from './sizes.js';

/** maxMessageSize of the size sweep: large enough for every size class, small enough to stay quick. */
const SWEEP_MAX = 128 * 1024;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A unique channel name per test, so that backends sharing a server never mix tests. */
let serial = 0;
const fresh = (base = 'test') => `${base}.${process.pid}.${Date.now().toString(36)}.${serial++}`;

/** Resolve to the error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** Expect the name-check error of ringbus: a TypeError quoting the bad value. */
async function expectTypeError(p: Promise<unknown>, mentions?: string): Promise<void> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(TypeError);
  if (mentions !== undefined) expect(err.message).toContain(mentions);
}

export const BAD_CHANNEL_NAMES: unknown[] = [
  '',
  'a'.repeat(100),
  'has space',
  'tab\t',
  'ümlaut',
  'slash/no',
  'colon:no',
  'two!bangs!here',
  '!leading',
  'star*',
  123,
  null,
  undefined,
  {},
  ['chat'],
];

export const BAD_GROUP_NAMES: unknown[] = ['', 'a'.repeat(100), 'has space', 'bang!', 'x!y', 'é', 7, null];

class NotPlain {
  x = 1;
}

/** Messages that must be refused, with a fragment the error must contain. */
export function badMessages(): Array<[string, unknown, string]> {
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  const deep: Record<string, unknown> = { a: [1, 2, { b: () => 1 }] };
  return [
    ['a string', 'hello', 'plain object'],
    ['a number', 42, 'plain object'],
    ['null', null, 'plain object'],
    ['an array', [1, 2], 'plain object'],
    ['a Map', new Map([['a', 1]]), 'plain object'],
    ['a Date', new Date(), 'plain object'],
    ['a class instance', new NotPlain(), 'plain object'],
    ['a nested function', deep, 'message.a[2].b'],
    ['an undefined value', { a: undefined }, 'message.a'],
    ['a symbol value', { s: Symbol('x') }, 'message.s'],
    ['a lone surrogate', { text: 'ok 👍'.slice(0, 4) }, 'message.text'],
    ['a lone low surrogate deep inside', { list: [{ t: '\udc00x' }] }, 'message.list[0].t'],
    ['a lone surrogate in a key', { ['k\ud800']: 1 }, 'lone UTF-16 surrogate'],
    ['nesting beyond the maximum depth', nested(MAX_MESSAGE_DEPTH + 1), `nested deeper than ${MAX_MESSAGE_DEPTH}`],
    ['a nested Date', { when: new Date() }, 'message.when'],
    ['a nested Map', { m: new Map() }, 'message.m'],
    ['a nested Set', { s: new Set([1]) }, 'message.s'],
    ['a RegExp', { r: /x/ }, 'message.r'],
    ['a Float32Array', { f: new Float32Array(2) }, 'message.f'],
    ['a circular reference', circular, 'circular'],
    ['an oversized bigint', { big: 2n ** 64n }, 'message.big'],
    ['a class instance deep inside', { list: [{ ok: 1 }, { bad: new NotPlain() }] }, 'message.list[1].bad'],
    ['the reserved routing field', { __asgi_channel__: 'x' }, '__asgi_channel__'],
  ];
}

/** A message nested `levels` deep (the message itself is level 1): `{ d: { d: ... {} } }`. */
export function nested(levels: number): Message {
  let m: Message = {};
  for (let i = 1; i < levels; i++) m = { d: m };
  return m;
}

/** A message with every value type the contract allows. */
export function everyValueType(): Message {
  return {
    type: 'test.every',
    empty: '',
    text: 'hello, wörld — 你好 🚀',
    zero: 0,
    int: 42,
    negative: -17,
    int32max: 2147483647,
    uint32: 4294967295,
    largeSafe: 2 ** 53 - 1,
    float: 3.141592653589793,
    tiny: 5e-324,
    negFloat: -0.5,
    bigPositive: 2n ** 60n,
    bigNegative: -(2n ** 63n),
    bigUnsigned: 2n ** 64n - 1n,
    yes: true,
    no: false,
    nothing: null,
    bytes: new Uint8Array([0, 1, 2, 253, 254, 255]),
    noBytes: new Uint8Array(0),
    list: [1, 'two', [3, [4, null]], { five: 5 }],
    emptyList: [],
    nested: { a: { b: { c: { d: 'deep' } } }, arr: [{ x: 1 }, { y: new Uint8Array([9]) }] },
    emptyObject: {},
    negativeZero: -0,
    nan: NaN,
    infinity: Infinity,
    negativeInfinity: -Infinity,
    // Own properties named __proto__ and __proto_ (an object literal would set the prototype).
    protoKeys: JSON.parse('{"__proto__": {"polluted": true}, "__proto_": 2, "constructor": 3}') as Message,
    deepest: nested(MAX_MESSAGE_DEPTH - 1),
  };
}

export function conformance(backend: Backend): void {
  describe(`conformance: ${backend.name}`, () => {
    const slack = backend.slackMs ?? 0;
    const opened: ChannelLayer[] = [];
    let layer: ChannelLayer;
    let peer: ChannelLayer;

    /** Create a layer with options, plus its peer; both closed after the test. */
    async function make(options?: Record<string, unknown>): Promise<[ChannelLayer, ChannelLayer]> {
      const l = await backend.create(options);
      opened.push(l);
      const p = await backend.peer(l);
      if (p !== l) opened.push(p);
      return [l, p];
    }

    beforeEach(async () => {
      [layer, peer] = await make();
    });

    afterEach(async () => {
      // Peers first: they may be attached to the layer's resources.
      for (const l of opened.reverse()) await l.close();
      opened.length = 0;
    });

    describe('basics', () => {
      it('offers the groups and flush extensions', () => {
        expect(layer.extensions).toContain('groups');
        expect(layer.extensions).toContain('flush');
      });

      it('delivers a message from one instance to another', async () => {
        const ch = fresh();
        await peer.send(ch, { type: 'hello', n: 1 });
        expect(await layer.receive(ch)).toEqual({ type: 'hello', n: 1 });
      });

      it('round-trips every allowed value type exactly', async () => {
        const ch = fresh();
        const sent = everyValueType();
        await peer.send(ch, sent);
        const got = await layer.receive(ch);
        expect(got).toEqual(sent);
        expect(got.bytes).toBeInstanceOf(Uint8Array);
        expect(got.bytes?.constructor).toBe(Uint8Array);
        expect(typeof got.bigPositive).toBe('bigint');
        expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
        expect(Object.is(got.negativeZero, -0)).toBe(true);
        const proto = got.protoKeys as Record<string, unknown>;
        expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
        expect(Object.keys(proto)).toEqual(['__proto__', '__proto_', 'constructor']);
        expect(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value).toEqual({ polluted: true });
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      });

      it('accepts a Buffer and gives back a Uint8Array with the same bytes', async () => {
        const ch = fresh();
        await peer.send(ch, { b: Buffer.from('abc') });
        const got = await layer.receive(ch);
        expect(got.b?.constructor).toBe(Uint8Array);
        expect(Array.from(got.b as Uint8Array)).toEqual([97, 98, 99]);
      });

      it('gives the receiver a copy: no aliasing with the sender', async () => {
        const ch = fresh();
        const bytes = new Uint8Array([1, 2, 3]);
        const sent = { type: 't', inner: { list: [1] }, bytes };
        await peer.send(ch, sent);
        sent.inner.list.push(2);
        bytes[0] = 99;
        const got = await layer.receive(ch);
        expect(got).toEqual({ type: 't', inner: { list: [1] }, bytes: new Uint8Array([1, 2, 3]) });
      });

      it('keeps FIFO order per channel', async () => {
        const ch = fresh();
        for (let i = 0; i < 20; i++) await peer.send(ch, { i });
        for (let i = 0; i < 20; i++) expect(await layer.receive(ch)).toEqual({ i });
      });

      it('keeps channels apart', async () => {
        const a = fresh('a');
        const b = fresh('b');
        await peer.send(a, { to: 'a' });
        await peer.send(b, { to: 'b' });
        expect(await layer.receive(b)).toEqual({ to: 'b' });
        expect(await layer.receive(a)).toEqual({ to: 'a' });
      });

      it('wakes a receiver that was waiting before the send', async () => {
        const ch = fresh();
        const pending = layer.receive(ch);
        await sleep(20);
        await peer.send(ch, { late: true });
        expect(await pending).toEqual({ late: true });
      });

      it('delivers each message at most once to concurrent receivers', async () => {
        const ch = fresh();
        const receives = [layer.receive(ch), layer.receive(ch), layer.receive(ch)];
        await sleep(20);
        for (let i = 0; i < 3; i++) await peer.send(ch, { i });
        const got = (await Promise.all(receives)).map((m) => m.i).sort();
        expect(got).toEqual([0, 1, 2]);
        await expect(layer.receive(ch, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
      });

      it('takes many waits in flight at once without a listener-leak warning', async () => {
        const warnings: Error[] = [];
        const onWarning = (w: Error) => {
          if (w.name === 'MaxListenersExceededWarning') warnings.push(w);
        };
        process.on('warning', onWarning);
        try {
          const chans = Array.from({ length: 30 }, () => fresh());
          const receives = chans.map((ch) => layer.receive(ch, { timeout: 10_000 }));
          await sleep(20);
          for (const [i, ch] of chans.entries()) await peer.send(ch, { i });
          expect((await Promise.all(receives)).map((m) => m.i)).toEqual(chans.map((_, i) => i));
          await sleep(10); // warnings are emitted on the next tick
        } finally {
          process.off('warning', onWarning);
        }
        expect(warnings.map((w) => w.message)).toEqual([]);
      });
    });

    describe('names', () => {
      it('accepts names up to 99 characters, with one ! and the allowed characters', async () => {
        for (const name of ['a', 'a'.repeat(99), 'A-b_c.9', 'x!', 'x!y', 'chat.lobby-1_2']) {
          await peer.send(name, { name });
        }
        expect(await layer.receive('a')).toEqual({ name: 'a' });
        expect(await layer.receive('A-b_c.9')).toEqual({ name: 'A-b_c.9' });
      });

      it('rejects bad channel names with a TypeError quoting the name', async () => {
        for (const bad of BAD_CHANNEL_NAMES) {
          const quoted = typeof bad === 'string' ? JSON.stringify(bad.slice(0, 20)).slice(0, -1) : undefined;
          await expectTypeError(layer.send(bad as string, { a: 1 }), quoted);
          await expectTypeError(layer.receive(bad as string), quoted);
          await expectTypeError(layer.groupAdd('g', bad as string), quoted);
          await expectTypeError(layer.groupDiscard('g', bad as string), quoted);
        }
      });

      it('states the rule in the error', async () => {
        const err = await rejection(layer.send('no spaces', {}));
        expect(err.message).toMatch(/letters, digits/);
        expect(err.message).toContain('"no spaces"');
      });

      it('rejects bad group names (no ! in groups) with a TypeError', async () => {
        for (const bad of BAD_GROUP_NAMES) {
          await expectTypeError(layer.groupAdd(bad as string, 'ch'));
          await expectTypeError(layer.groupDiscard(bad as string, 'ch'));
          await expectTypeError(layer.groupSend(bad as string, { a: 1 }));
        }
      });

      it('throws from listen at once for a bad name', () => {
        expect(() => layer.listen('bad name')).toThrow(TypeError);
      });
    });

    describe('messages', () => {
      it('rejects every disallowed message with a TypeError naming the path, and enqueues nothing', async () => {
        const ch = fresh();
        for (const [what, bad, fragment] of badMessages()) {
          const err = await rejection(peer.send(ch, bad as Message));
          expect(err, what).toBeInstanceOf(TypeError);
          expect(err.message, what).toContain(fragment);
          const gerr = await rejection(peer.groupSend('g', bad as Message));
          expect(gerr, what).toBeInstanceOf(TypeError);
        }
        await expect(layer.receive(ch, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
      });

      it('rejects a message over maxMessageSize with MessageTooLarge and keeps going', async () => {
        const [l, p] = await make({ maxMessageSize: 1024 });
        const ch = fresh();
        const err = await rejection(p.send(ch, { blob: new Uint8Array(2000) }));
        expect(err).toBeInstanceOf(MessageTooLarge);
        expect((err as MessageTooLarge).code).toBe('ERR_RINGBUS_MESSAGE_TOO_LARGE');
        expect((err as MessageTooLarge).limit).toBe(1024);
        expect(err.message).toContain('1024');
        await p.send(ch, { blob: new Uint8Array(900) });
        expect(((await l.receive(ch)).blob as Uint8Array).length).toBe(900);
      });

      it('delivers an empty object and a message of exactly the size limit', async () => {
        const ch = fresh();
        await peer.send(ch, {});
        expect(await layer.receive(ch)).toEqual({});
      });
    });

    describe('capacity', () => {
      it('holds 100 messages by default, then rejects with ChannelFull', async () => {
        const ch = fresh();
        for (let i = 0; i < 100; i++) await peer.send(ch, { i });
        const err = await rejection(peer.send(ch, { i: 100 }));
        expect(err).toBeInstanceOf(ChannelFull);
        expect((err as ChannelFull).code).toBe('ERR_RINGBUS_CHANNEL_FULL');
        expect((err as ChannelFull).channel).toBe(ch);
        expect((err as ChannelFull).capacity).toBe(100);
        // Another channel is unaffected; room returns after a receive; nothing was lost.
        await peer.send(fresh(), { other: true });
        expect(await layer.receive(ch)).toEqual({ i: 0 });
        await peer.send(ch, { i: 100 });
        for (let i = 1; i <= 100; i++) expect(await layer.receive(ch)).toEqual({ i });
      });

      it('takes capacity from the first matching channelCapacity pattern', async () => {
        const [l, p] = await make({
          capacity: 3,
          channelCapacity: [
            ['tiny.*', 1],
            [/^re\.[0-9]+$/, 2],
            ['tiny.big*', 50],
          ],
        });
        const tiny = `tiny.big${serial++}`;
        await p.send(tiny, { a: 1 });
        await expect(p.send(tiny, { a: 2 })).rejects.toBeInstanceOf(ChannelFull);
        const re = `re.${serial++}`;
        await p.send(re, {});
        await p.send(re, {});
        await expect(p.send(re, {})).rejects.toBeInstanceOf(ChannelFull);
        const plain = fresh('plain');
        for (let i = 0; i < 3; i++) await p.send(plain, { i });
        await expect(p.send(plain, {})).rejects.toBeInstanceOf(ChannelFull);
        expect(await l.receive(tiny)).toEqual({ a: 1 });
      });

      it('accepts channelCapacity as an object of glob patterns', async () => {
        const [, p] = await make({ channelCapacity: { 'small.?': 1 } });
        await p.send('small.x', {});
        await expect(p.send('small.x', {})).rejects.toBeInstanceOf(ChannelFull);
      });

      it('rejects bad options with a TypeError naming them', async () => {
        for (const options of [{ capacity: 0 }, { capacity: 1.5 }, { expiry: -1 }, { groupExpiry: 'x' }, { channelCapacity: { 'a*': 0 } }]) {
          const err = await rejection(backend.create(options));
          expect(err).toBeInstanceOf(TypeError);
          expect(err.message).toContain(Object.keys(options)[0]);
        }
      });
    });

    describe('expiry', () => {
      it('never delivers a message older than expiry, and counts it', async () => {
        const [l, p] = await make({ expiry: 0.3 });
        const ch = fresh();
        await p.send(ch, { stale: true });
        await sleep(700 + slack);
        await p.send(ch, { fresh: true });
        expect(await l.receive(ch)).toEqual({ fresh: true });
        expect(l.stats().expired + (p === l ? 0 : p.stats().expired)).toBeGreaterThanOrEqual(1);
      });

      it('frees the room of expired messages for new sends', async () => {
        const [l, p] = await make({ expiry: 0.3, capacity: 2 });
        const ch = fresh();
        await p.send(ch, { n: 1 });
        await p.send(ch, { n: 2 });
        await expect(p.send(ch, { n: 3 })).rejects.toBeInstanceOf(ChannelFull);
        await sleep(700 + slack);
        await p.send(ch, { n: 4 });
        expect(await l.receive(ch)).toEqual({ n: 4 });
      });

      it('drops group members older than groupExpiry', async () => {
        const [l, p] = await make({ groupExpiry: 0.3 });
        const g = fresh('g');
        const ch = fresh();
        await l.groupAdd(g, ch);
        await sleep(700 + slack);
        const ch2 = fresh();
        await l.groupAdd(g, ch2);
        await p.groupSend(g, { hi: 1 });
        expect(await l.receive(ch2)).toEqual({ hi: 1 });
        await expect(l.receive(ch, { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
      });
    });

    describe('groups', () => {
      it('sends to every member, from another instance', async () => {
        const g = fresh('g');
        const a = fresh('a');
        const b = await layer.newChannel();
        await layer.groupAdd(g, a);
        await layer.groupAdd(g, b);
        await peer.groupSend(g, { type: 'all' });
        expect(await layer.receive(a)).toEqual({ type: 'all' });
        expect(await layer.receive(b)).toEqual({ type: 'all' });
      });

      it('gives each member its own copy', async () => {
        const g = fresh('g');
        const [a, b] = [fresh('a'), fresh('b')];
        await layer.groupAdd(g, a);
        await layer.groupAdd(g, b);
        await peer.groupSend(g, { bytes: new Uint8Array([1, 2]), list: [1] });
        const ma = await layer.receive(a);
        (ma.bytes as Uint8Array)[0] = 42;
        (ma.list as number[]).push(2);
        expect(await layer.receive(b)).toEqual({ bytes: new Uint8Array([1, 2]), list: [1] });
      });

      it('adds idempotently: a member added twice gets one copy', async () => {
        const g = fresh('g');
        const a = fresh('a');
        await peer.groupAdd(g, a);
        await peer.groupAdd(g, a);
        await peer.groupSend(g, { once: true });
        expect(await layer.receive(a)).toEqual({ once: true });
        await expect(layer.receive(a, { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
      });

      it('stops sending to a discarded member; discarding twice or from nowhere is fine', async () => {
        const g = fresh('g');
        const [a, b] = [fresh('a'), fresh('b')];
        await layer.groupAdd(g, a);
        await layer.groupAdd(g, b);
        await peer.groupDiscard(g, a);
        await peer.groupDiscard(g, a);
        await peer.groupDiscard(fresh('nogroup'), a);
        await peer.groupSend(g, { n: 1 });
        expect(await layer.receive(b)).toEqual({ n: 1 });
        await expect(layer.receive(a, { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
      });

      it('sends to an empty or unknown group without error', async () => {
        await peer.groupSend(fresh('empty'), { n: 1 });
      });

      it('never rejects with ChannelFull: full members miss the message, counted as dropped', async () => {
        const [l] = await make({ capacity: 1 });
        const g = fresh('g');
        const [full, free] = [fresh('full'), fresh('free')];
        await l.groupAdd(g, full);
        await l.groupAdd(g, free);
        await l.send(full, { first: true });
        const before = l.stats().dropped;
        await l.groupSend(g, { n: 1 });
        expect(l.stats().dropped).toBe(before + 1);
        expect(await l.receive(free)).toEqual({ n: 1 });
        expect(await l.receive(full)).toEqual({ first: true });
        await expect(l.receive(full, { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
      });

      it('keeps FIFO order of group messages per member', async () => {
        const g = fresh('g');
        const a = fresh('a');
        await layer.groupAdd(g, a);
        for (let i = 0; i < 10; i++) await peer.groupSend(g, { i });
        for (let i = 0; i < 10; i++) expect(await layer.receive(a)).toEqual({ i });
      });
    });

    describe('process-specific channels', () => {
      it('makes unique, valid names owned by this instance', async () => {
        const names = new Set<string>();
        for (let i = 0; i < 500; i++) names.add(await layer.newChannel());
        expect(names.size).toBe(500);
        for (const name of names) {
          expect(name).toMatch(/^specific\.[a-zA-Z0-9\-_.]+![a-zA-Z0-9\-_.]+$/);
          expect(name.length).toBeLessThan(100);
        }
      });

      it('takes a prefix, and refuses a bad one', async () => {
        expect(await layer.newChannel('conn')).toMatch(/^conn\./);
        await expectTypeError(layer.newChannel('bad prefix'), 'bad prefix');
        await expectTypeError(layer.newChannel('bang!'));
      });

      it('delivers to a process-specific channel from another instance', async () => {
        const me = await layer.newChannel();
        await peer.send(me, { direct: true });
        expect(await layer.receive(me)).toEqual({ direct: true });
      });

      it('keeps process-specific channels of one owner apart', async () => {
        const [a, b] = [await layer.newChannel(), await layer.newChannel()];
        await peer.send(a, { to: 'a' });
        await peer.send(b, { to: 'b' });
        expect(await layer.receive(b)).toEqual({ to: 'b' });
        expect(await layer.receive(a)).toEqual({ to: 'a' });
      });

      it('refuses to receive on a process-specific channel this instance does not own', async () => {
        const err = await rejection(layer.receive('someone.else!abc'));
        expect(err).toBeInstanceOf(NotOwner);
        expect((err as NotOwner).code).toBe('ERR_RINGBUS_NOT_OWNER');
        expect(err.message).toContain('someone.else!abc');
        if (peer !== layer) {
          const theirs = await peer.newChannel();
          await expect(layer.receive(theirs)).rejects.toBeInstanceOf(NotOwner);
        }
      });
    });

    describe('waiting', () => {
      it('rejects with TimeoutError after the timeout, and consumes nothing', async () => {
        const ch = fresh();
        const started = Date.now();
        const err = await rejection(layer.receive(ch, { timeout: 100 }));
        expect(err).toBeInstanceOf(TimeoutError);
        expect((err as TimeoutError).code).toBe('ERR_RINGBUS_TIMEOUT');
        expect(Date.now() - started).toBeGreaterThanOrEqual(90);
        await peer.send(ch, { after: true });
        expect(await layer.receive(ch, { timeout: 5000 })).toEqual({ after: true });
      });

      it('takes a waiting message with timeout 0, and times out at once without one', async () => {
        const ch = fresh();
        await expect(layer.receive(ch, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
        await peer.send(ch, { ready: true });
        expect(await layer.receive(ch, { timeout: 0 })).toEqual({ ready: true });
      });

      it('rejects bad wait options with a TypeError', async () => {
        await expectTypeError(layer.receive(fresh(), { timeout: -1 }), 'timeout');
        await expectTypeError(layer.receive(fresh(), { signal: 'nope' as unknown as AbortSignal }), 'signal');
      });

      it('cancels a pending receive with an AbortSignal, losing nothing', async () => {
        const ch = fresh();
        const ac = new AbortController();
        const pending = layer.receive(ch, { signal: ac.signal });
        await sleep(20);
        ac.abort(new Error('user went away'));
        const err = await rejection(pending);
        expect(err).toBeInstanceOf(Aborted);
        expect((err as Aborted).code).toBe('ERR_RINGBUS_ABORTED');
        expect((err.cause as Error).message).toBe('user went away');
        // The aborted receiver must not swallow the next message.
        await peer.send(ch, { kept: true });
        expect(await layer.receive(ch, { timeout: 5000 })).toEqual({ kept: true });
      });

      it('rejects at once with an already-aborted signal', async () => {
        const ch = fresh();
        await peer.send(ch, { kept: true });
        await expect(layer.receive(ch, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(Aborted);
        expect(await layer.receive(ch)).toEqual({ kept: true });
      });

      it('refuses an already-aborted signal on a channel this instance has used before', async () => {
        const ch = fresh();
        await layer.send(ch, { warm: true });
        expect(await layer.receive(ch)).toEqual({ warm: true });
        await peer.send(ch, { kept: true });
        await expect(layer.receive(ch, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(Aborted);
        await expect(layer.send(ch, { no: true }, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(Aborted);
        expect(await layer.receive(ch)).toEqual({ kept: true });
        await expect(layer.receive(ch, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
      });

      it('listens: yields messages in order and ends quietly on abort', async () => {
        const ch = fresh();
        for (let i = 0; i < 5; i++) await peer.send(ch, { i });
        const ac = new AbortController();
        const seen: unknown[] = [];
        const loop = (async () => {
          for await (const m of layer.listen(ch, { signal: ac.signal })) {
            seen.push(m.i);
            if (seen.length === 6) ac.abort();
          }
        })();
        await sleep(30);
        await peer.send(ch, { i: 5 });
        await loop;
        expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
      });

      it('ends a listen loop that is waiting when its signal aborts', async () => {
        const ac = new AbortController();
        const loop = (async () => {
          let n = 0;
          for await (const _ of layer.listen(fresh(), { signal: ac.signal })) n++;
          return n;
        })();
        await sleep(30);
        ac.abort();
        expect(await loop).toBe(0);
      });
    });

    describe('flush', () => {
      it('empties channels and groups', async () => {
        const ch = fresh();
        const g = fresh('g');
        await peer.send(ch, { n: 1 });
        await layer.groupAdd(g, ch);
        await layer.flush();
        await expect(layer.receive(ch, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
        await peer.groupSend(g, { n: 2 });
        await expect(layer.receive(ch, { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
        expect(layer.stats().depths[ch] ?? 0).toBe(0);
        // The layer keeps working after a flush.
        await peer.send(ch, { n: 3 });
        expect(await layer.receive(ch)).toEqual({ n: 3 });
      });
    });

    describe('stats', () => {
      it('counts sent and received messages and reports depths', async () => {
        const ch = fresh();
        const before = layer.stats();
        await layer.send(ch, { n: 1 });
        await layer.send(ch, { n: 2 });
        expect(layer.stats().depths[ch]).toBe(2);
        await layer.receive(ch);
        const after = layer.stats();
        expect(after.sent - before.sent).toBe(2);
        expect(after.received - before.received).toBe(1);
        expect(after.depths[ch]).toBe(1);
        for (const key of ['sent', 'received', 'expired', 'dropped'] as const) {
          expect(typeof after[key]).toBe('number');
        }
      });
    });

    describe('close', () => {
      it('releases pending receives with LayerClosed and refuses every later call', async () => {
        const [l] = await make();
        const ch = fresh();
        const pending = l.receive(ch);
        const listening = (async () => {
          for await (const _ of l.listen(fresh())) void _;
        })();
        await sleep(20);
        await l.close();
        await expect(pending).rejects.toBeInstanceOf(LayerClosed);
        await expect(listening).rejects.toBeInstanceOf(LayerClosed);
        const calls: Array<Promise<unknown>> = [
          l.send(ch, {}),
          l.receive(ch),
          l.newChannel(),
          l.groupAdd('g', ch),
          l.groupDiscard('g', ch),
          l.groupSend('g', {}),
          l.flush(),
        ];
        for (const call of calls) {
          const err = await rejection(call);
          expect(err).toBeInstanceOf(LayerClosed);
          expect((err as LayerClosed).code).toBe('ERR_RINGBUS_LAYER_CLOSED');
        }
        await l.close(); // idempotent
      });
    });

    describe('size sweep: 0 B and around every power of two up to maxMessageSize, on every receive path', () => {
      // Smallest first: each message is larger than any the receiving instance saw before,
      // which is what used to make a lease return the previous message.
      const messages = sweepMessages(SWEEP_MAX);

      it('refuses one byte over the limit and delivers exactly the limit', async () => {
        const [l, p] = await make({ maxMessageSize: SWEEP_MAX });
        const ch = fresh();
        const over = messageOfSize(SWEEP_MAX + 1);
        expect(encode(over).length).toBe(SWEEP_MAX + 1);
        expect(await rejection(p.send(ch, over))).toBeInstanceOf(MessageTooLarge);
        const limit = messageOfSize(SWEEP_MAX);
        expect(encode(limit).length).toBe(SWEEP_MAX);
        await p.send(ch, limit);
        expectSame(await l.receive(ch), limit, 'receive at the limit');
      });

      it('receive', async () => {
        const [l, p] = await make({ maxMessageSize: SWEEP_MAX });
        const ch = fresh();
        for (const m of messages) {
          await p.send(ch, m);
          expectSame(await l.receive(ch), m, 'receive');
        }
      });

      it('listen', async () => {
        const [l, p] = await make({ maxMessageSize: SWEEP_MAX });
        const ch = fresh();
        for (const m of messages) await p.send(ch, m);
        const ac = new AbortController();
        let i = 0;
        for await (const got of l.listen(ch, { signal: ac.signal })) {
          expectSame(got, messages[i] as Message, 'listen');
          if (++i === messages.length) ac.abort();
        }
        expect(i).toBe(messages.length);
      });

      it('sendMany + receiveMany, and trySend + tryReceive', async () => {
        const [l, p] = await make({ maxMessageSize: SWEEP_MAX, capacity: messages.length });
        const ch = fresh();
        await p.sendMany(ch, messages);
        const got: Message[] = [];
        while (got.length < messages.length) got.push(...(await l.receiveMany(ch, { max: 5, timeout: 5000 })));
        got.forEach((m, i) => expectSame(m, messages[i] as Message, 'receiveMany'));
        if (backend.sync === false) return;
        for (const m of messages) {
          expect(p.trySend(ch, m)).toBe(true);
          expectSame(l.tryReceive(ch) as Message, m, 'tryReceive');
        }
      });

      it('groupSend to members', async () => {
        const [l, p] = await make({ maxMessageSize: SWEEP_MAX });
        const g = fresh('g');
        const members = [fresh('m'), fresh('m'), await l.newChannel()];
        for (const ch of members) await l.groupAdd(g, ch);
        for (const m of messages) {
          await p.groupSend(g, m);
          for (const ch of members) expectSame(await l.receive(ch), m, `groupSend member ${ch}`);
        }
      });

      describe.runIf(backend.tradeoffs.delivery.includes('at-least-once'))('with leases', () => {
        it('receiveLease', async () => {
          const [l, p] = await make({ maxMessageSize: SWEEP_MAX, delivery: 'at-least-once' });
          expect(l.extensions).toContain('leases');
          const ch = fresh();
          for (const m of messages) {
            await p.send(ch, m);
            const lease = await l.receiveLease(ch);
            expectSame(lease.message, m, 'receiveLease');
            expect(lease.deliveries).toBe(1);
            expect(await lease.ack()).toBe(true);
          }
          await expect(l.receiveLease(ch, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
        });

        it('receiveLease after a nack (the redelivered copy)', async () => {
          const [l, p] = await make({ maxMessageSize: SWEEP_MAX, delivery: 'at-least-once' });
          const ch = fresh();
          for (const m of messages) {
            await p.send(ch, m);
            await (await l.receiveLease(ch)).nack();
            const again = await l.receiveLease(ch);
            expectSame(again.message, m, 'receiveLease after nack');
            expect(again.deliveries).toBe(2);
            await again.ack();
          }
        });

        it('listen with leases', async () => {
          const [l, p] = await make({ maxMessageSize: SWEEP_MAX, delivery: 'at-least-once' });
          const ch = fresh();
          for (const m of messages) await p.send(ch, m);
          const ac = new AbortController();
          let i = 0;
          for await (const lease of l.listen(ch, { lease: true, signal: ac.signal })) {
            expectSame(lease.message, messages[i] as Message, 'listen with leases');
            expect(await lease.ack()).toBe(true);
            if (++i === messages.length) ac.abort();
          }
          expect(i).toBe(messages.length);
        });

        it('receive under at-least-once delivery', async () => {
          const [l, p] = await make({ maxMessageSize: SWEEP_MAX, delivery: 'at-least-once' });
          const ch = fresh();
          for (const m of messages) {
            await p.send(ch, m);
            expectSame(await l.receive(ch), m, 'receive (at-least-once)');
          }
        });
      });
    });

    const t = backend.tradeoffs;

    const sections = {
      backend, make, fresh, rejection, badChannelNames: BAD_CHANNEL_NAMES, layer: () => layer, peer: () => peer,
    };
    batchSections(sections);
    borrowSections(sections, SWEEP_MAX);

    describe.runIf(t.order.includes('lifo'))('order: lifo', () => {
      it('returns the newest message first, per channel, and only where the pattern says', async () => {
        const [l, p] = await make({ channelOrder: { 'stack.*': 'lifo' } });
        const stack = fresh('stack');
        const queue = fresh('queue');
        for (let i = 0; i < 5; i++) {
          await p.send(stack, { i });
          await p.send(queue, { i });
        }
        for (let i = 4; i >= 0; i--) expect(await l.receive(stack)).toEqual({ i });
        for (let i = 0; i < 5; i++) expect(await l.receive(queue)).toEqual({ i });
      });

      it('applies order: lifo to every channel', async () => {
        const [l, p] = await make({ order: 'lifo' });
        const ch = fresh();
        for (let i = 0; i < 3; i++) await p.send(ch, { i });
        expect(await l.receive(ch)).toEqual({ i: 2 });
      });
    });

    describe.runIf(t.full.includes('drop-oldest'))('full: drop-oldest', () => {
      it('evicts the oldest message, counts it, and never rejects', async () => {
        const [l, p] = await make({ capacity: 3, full: 'drop-oldest' });
        const ch = fresh();
        const before = p.stats().dropped + (p === l ? 0 : l.stats().dropped);
        for (let i = 0; i < 5; i++) await p.send(ch, { i });
        const after = p.stats().dropped + (p === l ? 0 : l.stats().dropped);
        expect(after - before).toBe(2);
        for (const i of [2, 3, 4]) expect(await l.receive(ch)).toEqual({ i });
      });
    });

    describe.runIf(t.full.includes('wait'))('full: wait', () => {
      it('lets send wait for room, then deliver in order', async () => {
        const [l, p] = await make({ capacity: 2, full: 'wait' });
        const ch = fresh();
        await p.send(ch, { i: 0 });
        await p.send(ch, { i: 1 });
        let done = false;
        const waiting = p.send(ch, { i: 2 }).then(() => (done = true));
        await sleep(50);
        expect(done).toBe(false);
        expect(await l.receive(ch)).toEqual({ i: 0 });
        await waiting;
        expect(await l.receive(ch)).toEqual({ i: 1 });
        expect(await l.receive(ch)).toEqual({ i: 2 });
      });

      it('times out or aborts a waiting send without enqueuing it', async () => {
        const [l, p] = await make({ capacity: 1, full: 'wait' });
        const ch = fresh();
        await p.send(ch, { i: 0 });
        await expect(p.send(ch, { i: 1 }, { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
        await expect(p.send(ch, { i: 2 }, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(Aborted);
        expect(await l.receive(ch)).toEqual({ i: 0 });
        await expect(l.receive(ch, { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
      });

      it('never makes groupSend wait: a full member misses the message', async () => {
        const [l] = await make({ capacity: 1, full: 'wait' });
        const g = fresh('g');
        const ch = fresh();
        await l.groupAdd(g, ch);
        await l.send(ch, { i: 0 });
        const before = l.stats().dropped;
        await l.groupSend(g, { i: 1 });
        expect(l.stats().dropped).toBe(before + 1);
      });
    });

    describe.runIf(t.delivery.includes('at-least-once'))('delivery: at-least-once', () => {
      it('hands out a lease; ack settles the message for good', async () => {
        const [l, p] = await make({ delivery: 'at-least-once' });
        const ch = fresh();
        await p.send(ch, { n: 1 });
        const lease = await l.receiveLease(ch);
        expect(lease.message).toEqual({ n: 1 });
        expect(lease.deliveries).toBe(1);
        expect(await lease.ack()).toBe(true);
        expect(await lease.ack()).toBe(false);
        await expect(l.receiveLease(ch, { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
      });

      it('returns a nacked message to the head of its channel with a higher delivery count', async () => {
        const [l, p] = await make({ delivery: 'at-least-once' });
        const ch = fresh();
        await p.send(ch, { n: 1 });
        await p.send(ch, { n: 2 });
        const first = await l.receiveLease(ch);
        expect(await first.nack()).toBe(true);
        const again = await l.receiveLease(ch);
        expect(again.message).toEqual({ n: 1 });
        expect(again.deliveries).toBe(2);
        await again.ack();
        expect((await l.receiveLease(ch)).message).toEqual({ n: 2 });
      });

      it('redelivers a message whose lease timed out', async () => {
        const [l, p] = await make({ delivery: 'at-least-once', leaseTimeout: 100 });
        const ch = fresh();
        await p.send(ch, { n: 1 });
        const lost = await l.receiveLease(ch);
        const again = await l.receiveLease(ch, { timeout: 5000 + slack });
        expect(again.message).toEqual({ n: 1 });
        expect(again.deliveries).toBe(2);
        expect(await lost.ack()).toBe(false);
        expect(await again.ack()).toBe(true);
      });

      it('moves a message to the dead-letter channel after maxDeliveries', async () => {
        const [l, p] = await make({ delivery: 'at-least-once', maxDeliveries: 2, deadLetterChannel: 'dead.letters' });
        const ch = fresh();
        await p.send(ch, { poison: true });
        await (await l.receiveLease(ch)).nack();
        await (await l.receiveLease(ch)).nack();
        await expect(l.receiveLease(ch, { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
        const dead = await l.receiveLease('dead.letters');
        expect(dead.message).toEqual({ poison: true });
        await dead.ack();
      });

      it('yields leases from listen({ lease: true })', async () => {
        const [l, p] = await make({ delivery: 'at-least-once' });
        const ch = fresh();
        await p.send(ch, { n: 1 });
        const ac = new AbortController();
        for await (const { message, ack } of l.listen(ch, { lease: true, signal: ac.signal })) {
          expect(message).toEqual({ n: 1 });
          await ack();
          ac.abort();
        }
      });

      it('still offers plain receive (settled at once)', async () => {
        const [l, p] = await make({ delivery: 'at-least-once' });
        const ch = fresh();
        await p.send(ch, { n: 1 });
        expect(await l.receive(ch)).toEqual({ n: 1 });
        await expect(l.receive(ch, { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
      });
    });

    it('refuses receiveLease under at-most-once delivery', async () => {
      const err = await rejection(layer.receiveLease(fresh()));
      expect((err as { code?: string }).code).toBe('ERR_RINGBUS_UNSUPPORTED');
    });
  });
}
