/**
 * Groups of the shared layer: `groupAdd`, `groupDiscard`, `groupSend`, and `deliverEncoded`
 * (the hybrid layer's delivery of one encoded message to many local channels). Separate from
 * shared.ts because group sends are a fan-out over many records, with their own memory needs
 * (a member list per group, a snapshot of the members per send) and their own drop policy
 * (a full member misses the message), none of which the one-channel fast paths use. The layer
 * hands in what they need as a {@link GroupHost}.
 *
 * The member lists live in the core (assembly/groups.ts); nothing here is shared between threads except through
 * core calls, and no call here waits.
 *
 * @module
 */

import { OutOfSharedMemory } from '../../errors.js';
import type { DropReason } from '../../events.js';
import type { Message } from '../../layer.js';
import { BLOCK_HEADER, MEMBER_ENTRY, type Core } from '../../wasm/core.js';
import type { Counters } from '../base.js';
import type { ResolvedSharedOptions } from './options.js';
import { pokeParked } from './park.js';
import type { Registry } from './registry.js';

/** What the group calls need from their shared layer. */
export interface GroupHost {
  readonly core: Core;
  readonly opts: ResolvedSharedOptions;
  readonly counters: Counters;
  readonly registry: Registry;
  /** Encode and store a message in a fresh block (owned by the caller). */
  store(message: Message): number;
  /** Store encoded `bytes` in a fresh block stamped `timeMs` (owned by the caller). */
  storeBytes(bytes: Uint8Array, timeMs: number): number;
  /** Retry `attempt` after bounded relief steps; 0 when it still fails. */
  relieve(attempt: () => number): number;
  /** Why `bytes` do not fit in the arena, for an error message. */
  shortage(bytes: number): string;
  /** Date.now() minus the expiry: messages sent at or before it are expired. */
  cutoff(): number;
  /** Count (and report to event listeners) `count` messages dropped. */
  noteDropped(count: number, channel: string | null, reason: DropReason, group?: string): void;
}

/** Add `channel` to `group` (both created if needed). */
export function groupAdd(host: GroupHost, group: string, channel: string): void {
  const x = host.core.x;
  const expiryMs = host.opts.common.groupExpiryMs;
  withMember(host, group, channel, true, (g, c) => {
    const now = Date.now();
    updateMembers(host, group, () => x.groupAdd(g, c, now, now - expiryMs), () => (x.groupSize(g) + 1) * MEMBER_ENTRY + 8);
  });
}

/** Remove `channel` from `group` (nothing when either does not exist). */
export function groupDiscard(host: GroupHost, group: string, channel: string): void {
  const x = host.core.x;
  const expiryMs = host.opts.common.groupExpiryMs;
  withMember(host, group, channel, false, (g, c) => {
    const cutoff = Date.now() - expiryMs;
    updateMembers(host, group, () => x.groupDiscard(g, c, cutoff), () => x.groupSize(g) * MEMBER_ENTRY + 8);
  });
}

/**
 * Run `fn` with the records of `group` and `channel` pinned. `create`: create both if
 * needed; else do nothing when either does not exist (a member channel cannot be
 * reclaimed, so a channel that does not exist is no member).
 */
function withMember(host: GroupHost, group: string, channel: string, create: boolean, fn: (g: number, c: number) => void): void {
  const { core, registry } = host;
  const x = core.x;
  const g = registry.pinGroup(group, create);
  if (g === 0) return;
  try {
    const c = create ? registry.pinChannel(channel) : registry.pinChannelIfExists(channel);
    if (c === 0) return;
    try {
      fn(g, c);
    } finally {
      x.unpinRecord(c);
    }
  } finally {
    x.unpinRecord(g);
  }
}

/** Send `message` to every member of `group` (full members miss it, counted as dropped). */
export function groupSend(host: GroupHost, group: string, message: Message): void {
  const { core, opts, registry } = host;
  const x = core.x;
  const h = host.store(message);
  const g = registry.pinGroup(group, false);
  if (g === 0) {
    x.release(h);
    return;
  }
  // The snapshot of the members goes to a block of this call only (nothing is kept per
  // instance); its size comes from a racy read of the member count, and the core says when
  // the group grew meanwhile.
  let snapshot = 0;
  try {
    const cutoff = Date.now() - opts.common.groupExpiryMs;
    let cap = x.groupSize(g) + 8;
    for (;;) {
      try {
        snapshot = scratch(host, cap * MEMBER_ENTRY, 'a snapshot of the members of group ' + `'${group}'`);
      } catch (err) {
        x.release(h);
        throw err;
      }
      const n = x.groupSend(g, h, cutoff, snapshot + BLOCK_HEADER, cap);
      if (n >= 0) {
        host.counters.sent += n;
        host.noteDropped(x.lastDropped(), null, 'group-full', group);
        return;
      }
      x.release(snapshot);
      snapshot = 0;
      cap = -n + 8;
    }
  } finally {
    if (snapshot !== 0) x.release(snapshot);
    x.unpinRecord(g);
  }
}

/**
 * Deliver encoded `bytes` sent at `timeMs` to each of `channels` (see
 * SharedLayer.deliverEncoded for the contract); how many channels received it.
 */
export function deliverEncoded(host: GroupHost, channels: readonly string[], bytes: Uint8Array, timeMs: number, group?: string): number {
  const { core, opts, registry } = host;
  const x = core.x;
  let delivered = 0;
  for (const channel of channels) {
    const rec = registry.pinChannel(channel);
    try {
      const h = host.storeBytes(bytes, timeMs);
      let ok = x.pushPinned(rec, h) === 1;
      if (!ok) {
        x.dropExpired(rec, host.cutoff());
        ok = x.pushPinned(rec, h) === 1;
      }
      if (!ok && opts.tradeoffs.fullOf(channel) === 'drop-oldest' && x.dropOldest(rec) === 1) {
        host.noteDropped(1, channel, 'drop-oldest', group);
        ok = x.pushPinned(rec, h) === 1;
      }
      if (ok) {
        delivered++;
        host.counters.sent++;
        // A receiver parked in this thread (the hybrid router delivers to its own thread's
        // instances) re-checks now instead of after V8's wake-up task (see park.ts, pokes).
        pokeParked(core.i32, (rec + core.off.wake) >> 2);
      } else {
        x.release(h);
        host.noteDropped(1, channel, group === undefined ? 'arrival-full' : 'group-full', group);
      }
    } finally {
      x.unpinRecord(rec);
    }
  }
  return delivered;
}

/**
 * Apply member-list change `update` (a core call; 0: no room for the new list), after relief
 * steps if needed; OutOfSharedMemory naming the list's size (`bytes`, read only on failure).
 */
function updateMembers(host: GroupHost, group: string, update: () => number, bytes: () => number): void {
  if (update() !== 0 || host.relieve(update) !== 0) return;
  const need = bytes();
  throw new OutOfSharedMemory('arena', `no room for the member list of group '${group}' (${need} bytes): ${host.shortage(need)}`);
}

/** A scratch block of `bytes` for `what` (after relief if needed); OutOfSharedMemory when none. */
function scratch(host: GroupHost, bytes: number, what: string): number {
  const x = host.core.x;
  let p = x.allocScratch(bytes);
  if (p === 0) p = host.relieve(() => x.allocScratch(bytes));
  if (p === 0) throw new OutOfSharedMemory('arena', `no room for ${what} of ${bytes} bytes: ${host.shortage(bytes)}`);
  return p;
}
