/**
 * Conformance section for borrowed receives (`receiveBorrowed`), run by suite.ts on every
 * backend. The contract is the same everywhere (the shared layer lends its blocks, the others
 * lend private copies): same checks, waits and delivery as `receive`, bytes valid until
 * `release()`, `release()` idempotent. Direction as in the suite: `peer` sends, `layer` receives.
 */
import { describe, expect, it } from 'vitest';
import { Aborted, LayerClosed, NotOwner, TimeoutError, type Message } from '../../dist/index.js';
import type { BatchContext } from './batch.js';
import { expectSame, sweepMessages } from './sizes.js';

/** A payload whose bytes say which message they belong to. */
function patterned(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + seed * 13) & 0xff;
  return b;
}

export function borrowSections(ctx: BatchContext, sweepMax: number): void {
  const { make, fresh, rejection } = ctx;

  describe('receiveBorrowed', () => {
    it('delivers the message exactly, its bytes valid until release; release is idempotent', async () => {
      const ch = fresh();
      const big = patterned(100_000, 1);
      const sent = { type: 'frame', text: 'héllo ✓', n: 7, big, small: new Uint8Array([1, 2, 3]), nested: { list: [big.subarray(0, 10)] } };
      await ctx.peer().send(ch, sent);
      const b = await ctx.layer().receiveBorrowed(ch);
      expect(b.released).toBe(false);
      expect(b.message.text).toBe('héllo ✓');
      expect(b.message.n).toBe(7);
      expect(Buffer.compare(b.message.big as Uint8Array, big)).toBe(0);
      expect(b.message.small).toEqual(new Uint8Array([1, 2, 3]));
      expect(b.message).toEqual(sent);
      const { release } = b; // a bound function
      expect(release()).toBe(true);
      expect(b.released).toBe(true);
      expect(release()).toBe(false);
      expect(b.release()).toBe(false);
      expect(await rejection(ctx.layer().receive(ch, { timeout: 0 }))).toBeInstanceOf(TimeoutError); // taken once
    });

    it('takes messages in order, interleaved with receive, at most once', async () => {
      const ch = fresh();
      for (let i = 0; i < 6; i++) await ctx.peer().send(ch, { i, p: patterned(2000, i) });
      const got: number[] = [];
      const held = [];
      for (let i = 0; i < 6; i++) {
        if (i % 2 === 0) {
          const b = await ctx.layer().receiveBorrowed(ch);
          held.push(b);
          got.push(b.message.i as number);
        } else got.push((await ctx.layer().receive(ch)).i as number);
      }
      expect(got).toEqual([0, 1, 2, 3, 4, 5]);
      // Held borrows still show their own bytes after later traffic on the bus.
      for (let i = 0; i < 20; i++) {
        await ctx.peer().send(ch, { i: 100 + i, p: patterned(2000, 100 + i) });
        await ctx.layer().receive(ch);
      }
      for (const b of held) {
        expect(Buffer.compare(b.message.p as Uint8Array, patterned(2000, b.message.i as number))).toBe(0);
        expect(b.release()).toBe(true);
      }
    });

    it('waits for a message, and rejects as receive does (timeout, signal, closed), consuming nothing', async () => {
      const ch = fresh();
      const waiting = ctx.layer().receiveBorrowed(ch);
      await ctx.peer().send(ch, { late: true });
      const b = await waiting;
      expect(b.message).toEqual({ late: true });
      b.release();
      expect(await rejection(ctx.layer().receiveBorrowed(ch, { timeout: 20 }))).toBeInstanceOf(TimeoutError);
      const ac = new AbortController();
      const aborted = ctx.layer().receiveBorrowed(ch, { signal: ac.signal });
      ac.abort();
      expect(await rejection(aborted)).toBeInstanceOf(Aborted);
      await ctx.peer().send(ch, { still: 'there' });
      expect(await ctx.layer().receive(ch)).toEqual({ still: 'there' });
    });

    it('refuses bad names, options and channels it does not own with the errors of receive', async () => {
      for (const name of ctx.badChannelNames) {
        const err = await rejection(ctx.layer().receiveBorrowed(name as string));
        expect(err).toBeInstanceOf(TypeError);
        expect(err.message).toContain('invalid channel name');
      }
      const ch = fresh();
      const t = await rejection(ctx.layer().receiveBorrowed(ch, { timeout: -1 }));
      expect(t).toBeInstanceOf(TypeError);
      expect(t.message).toMatch(/timeout -1 for receiveBorrowed/);
      const s = await rejection(ctx.layer().receiveBorrowed(ch, { signal: 'no' as unknown as AbortSignal }));
      expect(s).toBeInstanceOf(TypeError);
      expect(s.message).toContain('is not an AbortSignal');
      const o = await rejection(ctx.layer().receiveBorrowed(ch, 5 as unknown as undefined));
      expect(o).toBeInstanceOf(TypeError);
      const foreign = await ctx.peer().newChannel();
      if (ctx.peer() !== ctx.layer()) expect(await rejection(ctx.layer().receiveBorrowed(foreign, { timeout: 0 }))).toBeInstanceOf(NotOwner);
    });

    it('rejects with LayerClosed after close; a borrow taken before close may be released after it', async () => {
      const [l, p] = await make();
      const ch = fresh();
      await p.send(ch, { b: patterned(5000, 3) });
      const b = await l.receiveBorrowed(ch);
      const pending = l.receiveBorrowed(ch);
      await l.close();
      expect(await rejection(pending)).toBeInstanceOf(LayerClosed);
      expect(await rejection(l.receiveBorrowed(ch))).toBeInstanceOf(LayerClosed);
      b.release(); // true (a private copy) or false (the close gave it back): never a throw
      expect(b.released).toBe(true);
      expect(b.release()).toBe(false);
    });

    it('group sends: every member gets its own bytes (a write through one borrow is not seen by another)', async () => {
      const [l, p] = await make();
      const g = fresh('g');
      const members = [fresh('m'), fresh('m')];
      for (const m of members) await l.groupAdd(g, m);
      await p.groupSend(g, { b: patterned(4096, 9) });
      const first = await l.receiveBorrowed(members[0] as string);
      (first.message.b as Uint8Array)[0] = 0xee; // the contract says not to; it must stay harmless
      const second = await l.receiveBorrowed(members[1] as string);
      expect(Buffer.compare(second.message.b as Uint8Array, patterned(4096, 9))).toBe(0);
      first.release();
      second.release();
    });

    it('holds more borrows than the shared layer lends (MAX_BORROWS) at once, each with its own bytes', async () => {
      const [l, p] = await make({ capacity: 64 });
      const ch = fresh();
      for (let i = 0; i < 40; i++) await p.send(ch, { i, b: patterned(3000, i) });
      const held = [];
      for (let i = 0; i < 40; i++) held.push(await l.receiveBorrowed(ch));
      for (const [i, b] of held.entries()) {
        expect(b.message.i).toBe(i);
        expect(Buffer.compare(b.message.b as Uint8Array, patterned(3000, i))).toBe(0);
      }
      for (const b of held) expect(b.release()).toBe(true);
    });

    it.runIf(ctx.backend.tradeoffs.delivery.includes('at-least-once'))('under at-least-once delivery, settles at once like receive', async () => {
      const [l, p] = await make({ delivery: 'at-least-once', leaseTimeout: 100 });
      const ch = fresh();
      await p.send(ch, { b: patterned(5000, 4) });
      const b = await l.receiveBorrowed(ch);
      expect(Buffer.compare(b.message.b as Uint8Array, patterned(5000, 4))).toBe(0);
      await new Promise((r) => setTimeout(r, 300 + (ctx.backend.slackMs ?? 0)));
      // Not redelivered after leaseTimeout, whether or not it was released.
      expect(await rejection(l.receive(ch, { timeout: 0 }))).toBeInstanceOf(TimeoutError);
      expect(Buffer.compare(b.message.b as Uint8Array, patterned(5000, 4))).toBe(0);
      b.release();
    });

    it('size sweep: every size up to maxMessageSize', async () => {
      const [l, p] = await make({ maxMessageSize: sweepMax });
      const ch = fresh();
      for (const m of sweepMessages(sweepMax)) {
        await p.send(ch, m);
        const b = await l.receiveBorrowed(ch);
        expectSame(b.message as Message, m, 'receiveBorrowed');
        b.release();
      }
    });
  });
}
