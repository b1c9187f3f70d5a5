/**
 * The synchronous and batched calls of the shared layer: `trySend`, `tryReceive`,
 * `sendMany`, `receiveMany`. They use the same core calls as `send` / `receive` (the
 * lock-free queue of assembly/queue.ts; nothing new is shared between threads here), but
 * pay the per-call costs once per batch: one clock read, one pin of the channel record, one
 * wait at most. The layer hands in what they need as a {@link BatchHost} (its internals stay
 * private to it).
 *
 * A thread killed mid-call: the channel pin of every call here is recorded in the instance's
 * wait word (undone by the reaper), and at most one message is in hand at any time, tracked
 * as `send`'s and `receive`'s are (assembly/queue.ts). `sendMany` leaves the messages before
 * the one in hand queued and the rest never stored; `receiveMany` takes (copies out and
 * releases) one message after the other, so what it took is gone with the thread, as after
 * a `receive` (at most once), and the rest stays queued.
 *
 * @module
 */

import { ChannelFull, LayerClosed, TimeoutError } from '../../errors.js';
import type { Message, ReceiveManyOptions, SendOptions } from '../../layer.js';
import type { Core } from '../../wasm/core.js';
import type { Counters } from '../base.js';
import { partialSend } from '../base.js';
import type { ResolvedSharedOptions } from './options.js';
import { parkUntil, type ParkedCounter, type Strategy } from './park.js';

/** Polls of a drop-oldest send before it yields to the event loop (a consumer mid-claim holds the slot). */
const DROP_ROUNDS = 64;

/** What every call of the shared layer that may wait needs (here and in shared/leases.ts). */
export interface WaitingCallHost {
  readonly core: Core;
  readonly opts: ResolvedSharedOptions;
  readonly counters: Counters;
  readonly strategy: Strategy;
  readonly parkedCounter: ParkedCounter;
  readonly closeSignal: AbortSignal;
}

/** What the batched calls need from their shared layer. */
export interface BatchHost extends WaitingCallHost {
  /** The cached (record, generation) of a resolved channel. */
  cached(channel: string): { rec: number; gen: number } | undefined;
  /** Push `h` on a cached channel as `send`'s fast path does (held pin if any); false: full or stale. */
  pushCached(ref: { rec: number; gen: number }, h: number): boolean;
  /** Pop from a cached channel as `receive`'s fast path does: a handle, 0 empty, 1 stale. */
  popCached(ref: { rec: number; gen: number }): number;
  /** Encode and store a message in a fresh block sent at `now` (owned by the caller). */
  store(message: Message, now: number): number;
  /** Store an encoded message (MessageTooLarge over the limit) in a fresh block sent at `now`. */
  storeEncoded(bytes: Uint8Array, now: number): number;
  /** Copy message `h` out, release it, count it received, decode it. */
  take(h: number): Message;
  /** Count (and report to event listeners) `count` messages of `channel` evicted under 'drop-oldest'. */
  noteDropped(count: number, channel: string): void;
  /** Date.now() minus the expiry: messages sent at or before it are expired. */
  cutoff(): number;
  /** As pinChannel, recorded for the reaper (for calls that may wait); undo with unpinAfterWait. */
  pinForWait(channel: string): number;
  unpinAfterWait(rec: number): void;
  /** Wait (spin as the strategy says, then park) until a message of pinned `rec` is taken; its handle. */
  waitTake(channel: string, rec: number, what: string, options: ReceiveManyOptions | undefined): Promise<number>;
}

/**
 * Spin read-only on the depth of pinned channel `rec` (no CAS, no write: the consumer's
 * cache lines stay where they are) for up to `budget` polls, trying `push` only when the
 * depth says there is room. True once `push` succeeded.
 */
export function spinForRoom(core: Core, rec: number, capacity: number, budget: number, push: () => number): boolean {
  const x = core.x;
  for (let i = 0; i < budget; i++) {
    if (x.ringFill(rec) < capacity && push() === 1) return true;
  }
  return false;
}

/**
 * Wait for room on pinned channel `rec` (full policy 'wait'), then push `h`: the read-only
 * spin first under the adaptive strategy, then a park until the channel drained to its
 * low-water mark, half its capacity (a pop there wakes it, assembly/wake.ts). Rejects as the
 * wait ends otherwise (the caller still owns `h`).
 */
export async function waitForRoom(
  host: BatchHost, channel: string, rec: number, h: number, what: string, options: SendOptions | undefined,
): Promise<void> {
  const x = host.core.x;
  const push = (): number => {
    if (x.pushPinned(rec, h) === 1) return 1;
    x.dropExpired(rec, host.cutoff());
    return x.pushPinned(rec, h);
  };
  const capacity = host.opts.common.capacityOf(channel);
  if (host.strategy.wait === 'adaptive' && options?.timeout !== 0) {
    if (spinForRoom(host.core, rec, capacity, host.strategy.spinBudget, () => x.pushPinned(rec, h))) return;
  }
  // Once parked (its token armed), the sender takes room only at the low-water mark, where a
  // pop would wake it anyway: so every park, slept or not, is followed by about half a
  // capacity of sends (no lost wake-up: a pop that reaches the mark later finds the token).
  const low = capacity >> 1;
  const lifo = host.opts.tradeoffs.orderOf(channel) === 'lifo';
  const pushAtLowWater = (): number => ((lifo ? x.depth(rec) : x.ringFill(rec)) <= low ? push() : 0);
  const off = host.core.off;
  try {
    await parkUntil(
      host.core.i32, (rec + off.space) >> 2, (rec + off.sparked) >> 2, what, options, host.closeSignal, host.strategy,
      pushAtLowWater, host.parkedCounter,
    );
  } catch (err) {
    // At its deadline a sender takes any room there is: it never times out while there is room.
    if (err instanceof TimeoutError && push() === 1) return;
    throw err;
  }
}

/** `trySend`: arguments checked. */
export function trySend(host: BatchHost, channel: string, message: Message): boolean {
  const x = host.core.x;
  const h = host.store(message, Date.now());
  const cached = host.cached(channel);
  if (cached !== undefined && host.pushCached(cached, h)) {
    host.counters.sent++;
    return true;
  }
  // The pin is recorded in the instance's wait word, as for a wait: a thread killed while it
  // holds it leaves it for the reaper to undo, not pinned forever.
  let rec: number;
  try {
    rec = host.pinForWait(channel);
  } catch (err) {
    x.release(h);
    throw err;
  }
  try {
    if (pushOrDrop(host, channel, rec, h)) {
      host.counters.sent++;
      return true;
    }
    x.release(h);
    return false;
  } finally {
    host.unpinAfterWait(rec);
  }
}

/**
 * Push `h` on pinned `rec` without waiting: after dropping expired messages, and under
 * 'drop-oldest' evicting while the ring is really full (a bounded number of rounds: a
 * consumer preempted mid-claim can hold the slot; dropping more would lose messages for
 * nothing). False: the caller still owns `h` (it yields and tries again, or gives up).
 */
export function pushOrDrop(host: BatchHost, channel: string, rec: number, h: number): boolean {
  const x = host.core.x;
  if (x.pushPinned(rec, h) === 1) return true;
  x.dropExpired(rec, host.cutoff());
  if (x.pushPinned(rec, h) === 1) return true;
  if (host.opts.tradeoffs.fullOf(channel) !== 'drop-oldest') return false;
  const capacity = host.opts.common.capacityOf(channel);
  for (let i = 0; i < DROP_ROUNDS; i++) {
    if (x.ringFill(rec) >= capacity && x.dropOldest(rec) === 1) host.noteDropped(1, channel);
    if (x.pushPinned(rec, h) === 1) return true;
  }
  return false;
}

/** `tryReceive`: arguments checked (the channel is this instance's to receive on). */
export function tryReceive(host: BatchHost, channel: string): Message | undefined {
  const x = host.core.x;
  const cached = host.cached(channel);
  if (cached !== undefined) {
    const h = host.popCached(cached);
    if (h > 1) return host.take(h);
    if (h === 0) return undefined;
  }
  // Not resolved yet, or the record was reclaimed (h === 1): resolve it as receive does, the
  // pin recorded for the reaper (see trySend).
  const rec = host.pinForWait(channel);
  try {
    const h = x.popPinned(rec, host.cutoff());
    return h === 0 ? undefined : host.take(h);
  } finally {
    host.unpinAfterWait(rec);
  }
}

/**
 * `sendMany`: arguments checked and encoded, at least one message. Under one pin and one clock read,
 * each message in turn is stored and pushed, the full policy applying per message. Storing
 * one at a time keeps at most one message in hand, tracked for the reaper like `send`'s (a
 * thread killed mid-batch leaves the messages before it queued and the rest never stored).
 */
export async function sendMany(
  host: BatchHost, channel: string, messages: readonly Uint8Array[], options: SendOptions | undefined,
): Promise<void> {
  const x = host.core.x;
  const now = Date.now();
  const policy = host.opts.tradeoffs.fullOf(channel);
  const deadline = options?.timeout === undefined ? undefined : now + options.timeout;
  const what = `sendMany('${channel}')`;
  let sent = 0;
  let h = 0;
  let rec = 0;
  try {
    rec = host.pinForWait(channel);
    let cutoff = now - host.opts.common.expiryMs;
    for (; sent < messages.length; sent++) {
      h = host.storeEncoded(messages[sent] as Uint8Array, now);
      if (x.pushPinned(rec, h) !== 1) {
        x.dropExpired(rec, cutoff);
        if (x.pushPinned(rec, h) !== 1) {
          if (policy === 'reject') throw new ChannelFull(channel, host.opts.common.capacityOf(channel));
          if (policy === 'drop-oldest') {
            while (!pushOrDrop(host, channel, rec, h)) {
              await new Promise<void>((resolve) => setImmediate(resolve));
              if (host.closeSignal.aborted) throw new LayerClosed(what);
            }
          } else {
            const timeout = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
            await waitForRoom(host, channel, rec, h, what, { timeout, signal: options?.signal });
            cutoff = host.cutoff();
          }
        }
      }
      h = 0; // queued: the channel owns it
    }
  } catch (err) {
    throw partialSend(err, sent, messages.length);
  } finally {
    host.counters.sent += sent;
    if (h !== 0) x.release(h);
    if (rec !== 0) host.unpinAfterWait(rec);
  }
}

/**
 * `receiveMany`: arguments checked. Waits for the first message as `receive` does, then takes
 * what is queued, up to `max`, under the same pin and one cutoff.
 */
export async function receiveMany(
  host: BatchHost, channel: string, max: number, options: ReceiveManyOptions | undefined,
): Promise<Message[]> {
  const x = host.core.x;
  const rec = host.pinForWait(channel);
  try {
    let cutoff = host.cutoff();
    let h = x.popPinned(rec, cutoff);
    if (h === 0) {
      h = await host.waitTake(channel, rec, `receiveMany('${channel}')`, options);
      cutoff = host.cutoff();
    }
    const out = [host.take(h)];
    while (out.length < max) {
      h = x.popPinned(rec, cutoff);
      if (h === 0) break;
      out.push(host.take(h));
    }
    return out;
  } finally {
    host.unpinAfterWait(rec);
  }
}
