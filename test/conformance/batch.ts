/**
 * Conformance sections for the synchronous and batched calls (`trySend`, `tryReceive`,
 * `sendMany`, `receiveMany`), run by suite.ts on every backend with the suite's own layer,
 * peer and `make`. Direction as in the suite: `peer` sends, `layer` receives.
 */
import { describe, expect, it } from 'vitest';
import {
  Aborted,
  ChannelFull,
  LayerClosed,
  MessageTooLarge,
  NotOwner,
  TimeoutError,
  Unsupported,
  type ChannelLayer,
  type Message,
} from '../../dist/index.js';
import type { Backend } from './backend.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What the sections need from the suite. */
export interface BatchContext {
  backend: Backend;
  layer(): ChannelLayer;
  peer(): ChannelLayer;
  make(options?: Record<string, unknown>): Promise<[ChannelLayer, ChannelLayer]>;
  fresh(base?: string): string;
  rejection(p: Promise<unknown>): Promise<Error>;
  badChannelNames: unknown[];
}

/** The error a synchronous call throws (fails the test if it returns). */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw, but the call returned');
}

const numbered = (n: number, from = 0): Message[] => Array.from({ length: n }, (_, i) => ({ type: 'n', i: from + i }));

export function batchSections(ctx: BatchContext): void {
  const { backend, make, fresh, rejection } = ctx;
  const t = backend.tradeoffs;
  const sync = backend.sync !== false;

  describe.runIf(sync)('trySend / tryReceive', () => {
    it('tryReceive returns undefined on an empty channel, and takes what trySend queued, in order', () => {
      const ch = fresh();
      expect(ctx.layer().tryReceive(ch)).toBeUndefined();
      for (let i = 0; i < 5; i++) expect(ctx.peer().trySend(ch, { i })).toBe(true);
      for (let i = 0; i < 5; i++) expect(ctx.layer().tryReceive(ch)).toEqual({ i });
      expect(ctx.layer().tryReceive(ch)).toBeUndefined();
    });

    it('interoperates with send and receive on the same channel', async () => {
      const ch = fresh();
      await ctx.peer().send(ch, { via: 'send' });
      expect(ctx.peer().trySend(ch, { via: 'trySend' })).toBe(true);
      expect(ctx.layer().tryReceive(ch)).toEqual({ via: 'send' });
      expect(await ctx.layer().receive(ch, { timeout: 5000 })).toEqual({ via: 'trySend' });
    });

    it('trySend returns false on a full channel and loses nothing', async () => {
      const [l, p] = await make({ capacity: 2 });
      const ch = fresh();
      expect(p.trySend(ch, { i: 0 })).toBe(true);
      expect(p.trySend(ch, { i: 1 })).toBe(true);
      expect(p.trySend(ch, { i: 2 })).toBe(false);
      expect(l.tryReceive(ch)).toEqual({ i: 0 });
      expect(p.trySend(ch, { i: 3 })).toBe(true);
      expect(l.tryReceive(ch)).toEqual({ i: 1 });
      expect(l.tryReceive(ch)).toEqual({ i: 3 });
      expect(l.tryReceive(ch)).toBeUndefined();
    });

    it.runIf(t.full.includes('wait'))("trySend never waits under full: 'wait' (false when full)", async () => {
      const [l, p] = await make({ capacity: 1, full: 'wait' });
      const ch = fresh();
      expect(p.trySend(ch, { first: true })).toBe(true);
      expect(p.trySend(ch, { second: true })).toBe(false);
      expect(l.tryReceive(ch)).toEqual({ first: true });
      expect(l.tryReceive(ch)).toBeUndefined();
    });

    it.runIf(t.full.includes('drop-oldest'))("trySend evicts the oldest under full: 'drop-oldest'", async () => {
      const [l, p] = await make({ capacity: 2, full: 'drop-oldest' });
      const ch = fresh();
      for (let i = 0; i < 4; i++) expect(p.trySend(ch, { i })).toBe(true);
      expect(p.stats().dropped).toBe(2);
      expect(l.tryReceive(ch)).toEqual({ i: 2 });
      expect(l.tryReceive(ch)).toEqual({ i: 3 });
    });

    it('refuses bad names, bad messages and oversized messages as send does, synchronously', async () => {
      for (const bad of ctx.badChannelNames) {
        expect(thrown(() => ctx.peer().trySend(bad as string, {}))).toBeInstanceOf(TypeError);
        expect(thrown(() => ctx.layer().tryReceive(bad as string))).toBeInstanceOf(TypeError);
      }
      expect(thrown(() => ctx.peer().trySend(fresh(), { f: () => 1 } as unknown as Message)).message).toContain('message.f');
      const [l, p] = await make({ maxMessageSize: 1024 });
      const ch = fresh();
      expect(thrown(() => p.trySend(ch, { big: 'x'.repeat(2000) }))).toBeInstanceOf(MessageTooLarge);
      expect(l.tryReceive(ch)).toBeUndefined();
    });

    it("refuses tryReceive on another instance's process-specific channel", async () => {
      expect(thrown(() => ctx.layer().tryReceive('someone.else!abc'))).toBeInstanceOf(NotOwner);
      if (ctx.peer() !== ctx.layer()) {
        const theirs = await ctx.peer().newChannel();
        expect(thrown(() => ctx.layer().tryReceive(theirs))).toBeInstanceOf(NotOwner);
      }
      const mine = await ctx.layer().newChannel();
      expect(ctx.peer().trySend(mine, { to: 'me' })).toBe(true);
      expect(ctx.layer().tryReceive(mine)).toEqual({ to: 'me' });
    });

    it('throws LayerClosed after close', async () => {
      const [l] = await make();
      await l.close();
      expect(thrown(() => l.trySend(fresh(), {}))).toBeInstanceOf(LayerClosed);
      expect(thrown(() => l.tryReceive(fresh()))).toBeInstanceOf(LayerClosed);
    });
  });

  describe.runIf(!sync)('trySend / tryReceive (not offered)', () => {
    it('throws Unsupported, naming the calls to use instead', () => {
      const err = thrown(() => ctx.peer().trySend(fresh(), {}));
      expect(err).toBeInstanceOf(Unsupported);
      expect(err.message).toContain('send');
      expect(thrown(() => ctx.layer().tryReceive(fresh()))).toBeInstanceOf(Unsupported);
    });

    it('still checks the arguments first', async () => {
      expect(thrown(() => ctx.peer().trySend('bad name', {}))).toBeInstanceOf(TypeError);
      expect(thrown(() => ctx.layer().tryReceive('someone.else!abc'))).toBeInstanceOf(NotOwner);
    });
  });

  describe('sendMany / receiveMany', () => {
    it('delivers a batch in order; receiveMany returns at most max, oldest first', async () => {
      const ch = fresh();
      await ctx.peer().sendMany(ch, numbered(10));
      const first = await ctx.layer().receiveMany(ch, { max: 4, timeout: 5000 });
      expect(first).toEqual(numbered(4));
      const rest: Message[] = [];
      while (rest.length < 6) rest.push(...(await ctx.layer().receiveMany(ch, { timeout: 5000 })));
      expect(rest).toEqual(numbered(6, 4));
      await expect(ctx.layer().receiveMany(ch, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    });

    it('an empty batch sends nothing and resolves', async () => {
      const ch = fresh();
      await ctx.peer().sendMany(ch, []);
      await expect(ctx.layer().receive(ch, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    });

    it('receiveMany waits for the first message, then returns what is there', async () => {
      const ch = fresh();
      const pending = ctx.layer().receiveMany(ch, { timeout: 10_000 });
      await sleep(30);
      await ctx.peer().sendMany(ch, numbered(3));
      const got = await pending;
      expect(got.length).toBeGreaterThanOrEqual(1);
      const all = [...got];
      while (all.length < 3) all.push(...(await ctx.layer().receiveMany(ch, { timeout: 5000 })));
      expect(all).toEqual(numbered(3));
    });

    it('receiveMany times out on an empty channel and consumes nothing', async () => {
      const ch = fresh();
      const started = Date.now();
      const err = await rejection(ctx.layer().receiveMany(ch, { timeout: 80 }));
      expect(err).toBeInstanceOf(TimeoutError);
      expect(err.message).toContain('receiveMany');
      expect(Date.now() - started).toBeGreaterThanOrEqual(70);
      await ctx.peer().send(ch, { after: true });
      expect(await ctx.layer().receiveMany(ch, { timeout: 5000 })).toEqual([{ after: true }]);
    });

    it('mixes with send and receive on the same channel, in order', async () => {
      const ch = fresh();
      await ctx.peer().send(ch, { i: 0 });
      await ctx.peer().sendMany(ch, [{ i: 1 }, { i: 2 }]);
      await ctx.peer().send(ch, { i: 3 });
      expect(await ctx.layer().receive(ch, { timeout: 5000 })).toEqual({ i: 0 });
      const got: Message[] = [];
      while (got.length < 3) got.push(...(await ctx.layer().receiveMany(ch, { timeout: 5000 })));
      expect(got).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }]);
    });

    it("under full: 'reject', queues what fits and rejects with ChannelFull carrying the count", async () => {
      const [l, p] = await make({ capacity: 3 });
      const ch = fresh();
      await p.send(ch, { type: 'n', i: -1 });
      const err = await rejection(p.sendMany(ch, numbered(5)));
      expect(err).toBeInstanceOf(ChannelFull);
      expect((err as ChannelFull).sent).toBe(2);
      expect(err.message).toContain('2 of 5');
      const got: Message[] = [];
      while (got.length < 3) got.push(...(await l.receiveMany(ch, { timeout: 5000 })));
      expect(got).toEqual([{ type: 'n', i: -1 }, ...numbered(2)]);
      await expect(l.receive(ch, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
      expect(p.stats().sent).toBe(3);
    });

    it.runIf(t.full.includes('drop-oldest'))("under full: 'drop-oldest', queues all, evicting the oldest", async () => {
      const [l, p] = await make({ capacity: 3, full: 'drop-oldest' });
      const ch = fresh();
      await p.sendMany(ch, numbered(5));
      expect(p.stats().dropped).toBe(2);
      const got: Message[] = [];
      while (got.length < 3) got.push(...(await l.receiveMany(ch, { timeout: 5000 })));
      expect(got).toEqual(numbered(3, 2));
    });

    it.runIf(t.full.includes('wait'))("under full: 'wait', waits for room message by message", async () => {
      const [l, p] = await make({ capacity: 2, full: 'wait' });
      const ch = fresh();
      let done = false;
      const sending = p.sendMany(ch, numbered(7), { timeout: 20_000 }).then(() => {
        done = true;
      });
      const got: Message[] = [];
      while (got.length < 7) got.push(...(await l.receiveMany(ch, { timeout: 20_000 })));
      await sending;
      expect(done).toBe(true);
      expect(got).toEqual(numbered(7));
    });

    it.runIf(t.full.includes('wait'))("under full: 'wait', a timeout or an abort says how many were queued", async () => {
      const [l, p] = await make({ capacity: 2, full: 'wait' });
      const ch = fresh();
      const err = await rejection(p.sendMany(ch, numbered(4), { timeout: 60 }));
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as TimeoutError).sent).toBe(2);
      const ac = new AbortController();
      const pending = p.sendMany(ch, numbered(2, 10), { signal: ac.signal });
      await sleep(30);
      ac.abort();
      const aborted = await rejection(pending);
      expect(aborted).toBeInstanceOf(Aborted);
      expect((aborted as Aborted).sent).toBe(0);
      const got: Message[] = [];
      while (got.length < 2) got.push(...(await l.receiveMany(ch, { timeout: 5000 })));
      expect(got).toEqual(numbered(2));
      await expect(l.receive(ch, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    });

    it('checks every message before sending any: a bad one names its index, nothing is sent', async () => {
      const ch = fresh();
      const batch = [{ ok: 1 }, { ok: 2 }, { bad: new Date() }] as unknown as Message[];
      const err = await rejection(ctx.peer().sendMany(ch, batch));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toContain('messages[2]');
      expect(err.message).toContain('message.bad');
      await expect(ctx.layer().receive(ch, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
      const notArray = await rejection(ctx.peer().sendMany(ch, { a: 1 } as unknown as Message[]));
      expect(notArray).toBeInstanceOf(TypeError);
    });

    it('stops at a message over maxMessageSize: MessageTooLarge says how many before it were queued', async () => {
      const [l, p] = await make({ maxMessageSize: 1024 });
      const ch = fresh();
      const err = await rejection(p.sendMany(ch, [{ i: 0 }, { i: 1 }, { big: 'x'.repeat(2000) }, { i: 3 }]));
      expect(err).toBeInstanceOf(MessageTooLarge);
      expect((err as MessageTooLarge).sent).toBe(2);
      const got: Message[] = [];
      while (got.length < 2) got.push(...(await l.receiveMany(ch, { timeout: 5000 })));
      expect(got).toEqual([{ i: 0 }, { i: 1 }]);
      await expect(l.receive(ch, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    });

    it('refuses bad names and a bad max with a TypeError', async () => {
      for (const bad of ctx.badChannelNames) {
        expect(await rejection(ctx.peer().sendMany(bad as string, [{}]))).toBeInstanceOf(TypeError);
        expect(await rejection(ctx.layer().receiveMany(bad as string))).toBeInstanceOf(TypeError);
      }
      for (const max of [0, -1, 1.5, Number.NaN, '3']) {
        const err = await rejection(ctx.layer().receiveMany(fresh(), { max: max as number }));
        expect(err).toBeInstanceOf(TypeError);
        expect(err.message).toContain('max');
      }
      expect(await rejection(ctx.layer().receiveMany(fresh(), { timeout: -1 }))).toBeInstanceOf(TypeError);
    });

    it("receives a batch on its own process-specific channel, and refuses another instance's", async () => {
      const mine = await ctx.layer().newChannel();
      await ctx.peer().sendMany(mine, numbered(3));
      const got: Message[] = [];
      while (got.length < 3) got.push(...(await ctx.layer().receiveMany(mine, { timeout: 5000 })));
      expect(got).toEqual(numbered(3));
      expect(await rejection(ctx.layer().receiveMany('someone.else!abc'))).toBeInstanceOf(NotOwner);
      if (ctx.peer() !== ctx.layer()) {
        const theirs = await ctx.peer().newChannel();
        expect(await rejection(ctx.layer().receiveMany(theirs))).toBeInstanceOf(NotOwner);
      }
    });

    it('rejects with an already-aborted signal, consuming nothing', async () => {
      const ch = fresh();
      await ctx.peer().send(ch, { kept: true });
      await expect(ctx.layer().receiveMany(ch, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(Aborted);
      await expect(ctx.peer().sendMany(ch, [{ no: 1 }], { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(Aborted);
      expect(await ctx.layer().receiveMany(ch, { timeout: 5000 })).toEqual([{ kept: true }]);
    });

    it('cancels a pending receiveMany with its signal, losing nothing', async () => {
      const ch = fresh();
      const ac = new AbortController();
      const pending = ctx.layer().receiveMany(ch, { signal: ac.signal });
      await sleep(20);
      ac.abort();
      expect(await rejection(pending)).toBeInstanceOf(Aborted);
      await ctx.peer().send(ch, { kept: true });
      expect(await ctx.layer().receiveMany(ch, { timeout: 5000 })).toEqual([{ kept: true }]);
    });

    it('rejects with LayerClosed after close, and a pending receiveMany when the layer closes', async () => {
      const [l] = await make();
      const pending = l.receiveMany(fresh());
      await sleep(20);
      await l.close();
      expect(await rejection(pending)).toBeInstanceOf(LayerClosed);
      expect(await rejection(l.sendMany(fresh(), [{}]))).toBeInstanceOf(LayerClosed);
      expect(await rejection(l.receiveMany(fresh()))).toBeInstanceOf(LayerClosed);
    });

    it.runIf(t.delivery.includes('at-least-once'))('under at-least-once delivery, settles at once like receive', async () => {
      const [l, p] = await make({ delivery: 'at-least-once', leaseTimeout: 100 });
      const ch = fresh();
      await p.sendMany(ch, numbered(2));
      const got: Message[] = [];
      while (got.length < 2) got.push(...(await l.receiveMany(ch, { timeout: 5000 })));
      expect(got).toEqual(numbered(2));
      await sleep(300 + (backend.slackMs ?? 0));
      await expect(l.receiveMany(ch, { timeout: 0 })).rejects.toBeInstanceOf(TimeoutError);
    });

    it('counts a receive that went to sleep in waits, and the wake-up in notifies', async () => {
      const before = ctx.layer().stats();
      const notifiesBefore = ctx.peer().stats().notifies;
      expect(typeof before.waits).toBe('number');
      const ch = fresh();
      const pending = ctx.layer().receive(ch, { timeout: 10_000 });
      await sleep(50);
      await ctx.peer().send(ch, { wake: true });
      await pending;
      expect(ctx.layer().stats().waits).toBeGreaterThan(before.waits);
      // Redis wakes its clients itself (notifies stay 0); the others count the notify.
      if (sync) expect(ctx.peer().stats().notifies).toBeGreaterThan(notifiesBefore);
      else expect(ctx.peer().stats().notifies).toBe(0);
    });
  });
}
