/**
 * Names of the shared layer: the region's name slots, registry lookups, and this instance's
 * cache of resolved names as (record, generation). Separate from shared.ts because it is one
 * job with its own state (the caches, the slot hint) and its own rules (below), used by
 * every operation that names a channel or a group; the layer keeps a direct reference to
 * the channel cache for its fast paths, so they pay no extra call.
 *
 * Name slots (assembly/layout.ts): a lookup claims one of the region's slots for the length
 * of the call (a CAS on its owner word), writes the name into it and hands its address to
 * the core. Slots are not kept per instance, so attaching costs no shared memory and lookups
 * work even when the arena is full. A pin taken for a wait is recorded in the instance's
 * wait word by the core itself (see pinForWait), so a thread killed mid-lookup leaves only
 * recorded pins behind, which the reaper undoes.
 *
 * Cache rule of the record reclamation (shared/reclaim.ts): use a cached (record,
 * generation) only synchronously right after reading it from the cache; across an await,
 * hold a pinned record (a record's memory may become another block once this instance
 * announced a later epoch). The core re-validates the generation on every use, so a
 * reclaimed channel is looked up again, never written through a stale address.
 *
 * @module
 */

import { OutOfSharedMemory, Unsupported } from '../../errors.js';
import { BLOCK_HEADER, FULL_CODES, KIND_CHANNEL, KIND_GROUP, LIFO_FLAG, RECORD_BYTES, STATUS, type Core } from '../../wasm/core.js';
import type { Holds } from './holds.js';
import { LIFO_DROP_OLDEST, type ResolvedSharedOptions } from './options.js';

/** Registry slots visited (reclaiming unused records) each time this instance creates one. */
const SWEEP_STEP = 64;
/** Cached names per instance before the cache is cleared (it is only a cache). */
const CACHE_LIMIT = 50_000;

/** Most waits in a row that skip spinning on a channel where spinning keeps failing (see Ref). */
export const MAX_SPIN_BACKOFF = 64;

/** A resolved name: its record and generation, and this instance's per-channel state. */
export interface Ref {
  rec: number;
  gen: number;
  /**
   * Adaptive waiting on this channel: waits left that park at once without spinning, and the
   * current back-off. A spin that catches a message resets the back-off; a spin that fails
   * (the channel is idle, or the sender cannot run because spinning threads hold the cores)
   * doubles it, up to {@link MAX_SPIN_BACKOFF} waits. So a busy ping-pong keeps spinning,
   * while idle channels and oversubscribed cores mostly park.
   */
  spinSkip: number;
  spinBackoff: number;
  /** This instance's held pin on the channel (shared/holds.ts): hold entry address, 0 when not held. */
  held: number;
  /** Used by a fast path since the holds' last tick. */
  hot: boolean;
}

/** What the registry needs from its shared layer. */
export interface RegistryHost {
  readonly core: Core;
  readonly opts: ResolvedSharedOptions;
  readonly holds: Holds;
  /** Retry `attempt` after bounded relief steps; 0 when it still fails. */
  relieve(attempt: () => number): number;
  /** Why `bytes` do not fit in the arena, for an error message. */
  shortage(bytes: number): string;
  /** A creating lookup swept other channels: report what expired (null channel). */
  swept(): void;
}

/** The name slots, the registry lookups and the name caches of one layer instance. */
export class Registry {
  /** Resolved channels (the layer's fast paths read this map directly). */
  readonly channels = new Map<string, Ref>();
  readonly groups = new Map<string, Ref>();
  private readonly host: RegistryHost;
  /** The host's core, kept as a field: pinForWait is on the path of every receive that waits. */
  private readonly core: Core;
  /** Address of this instance's wait word for a pin (0: none; see pinForWait). */
  private readonly pinWord: number;
  /** The region's name slots (see assembly/layout.ts): address, count, size, data offset. */
  private readonly slots: { base: number; count: number; size: number; data: number };
  /** Where this instance starts looking for a free name slot. */
  private hint: number;

  constructor(host: RegistryHost, pinWord: number) {
    this.host = host;
    this.core = host.core;
    this.pinWord = pinWord;
    const x = host.core.x;
    this.slots = { base: x.nameSlots(), count: x.nameSlotCount(), size: x.nameSlotSize(), data: x.nameSlotData() };
    this.hint = Math.floor(Math.random() * this.slots.count);
  }

  /**
   * As pinChannel, for an operation that may wait: the pin is recorded in this instance's
   * wait word (if free) right after it is taken; `unpinAfterWait` clears it (if still this
   * record) right before unpinning. A set word thus always stands for a pin in effect.
   */
  pinForWait(name: string): number {
    const x = this.core.x;
    const cached = this.channels.get(name);
    // Pin and record in one core call. (A first use goes through the lookup, whose pin is
    // swapped for a recorded one: only that first time is there a moment in between.)
    if (cached !== undefined && x.pinTracked(cached.rec, cached.gen, this.pinWord) === 1) return cached.rec;
    // The lookup records its pin in the wait word itself, in the core, so that a thread killed
    // at any point here leaves only recorded pins behind (the reaper undoes them).
    const rec = this.pinChannel(name, this.pinWord);
    const ref = this.channels.get(name);
    if (ref !== undefined && ref.rec === rec && x.pinTracked(rec, ref.gen, this.pinWord) === 1) x.unpinRecord(rec);
    return rec;
  }

  unpinAfterWait(rec: number): void {
    this.core.x.unpinTracked(rec, this.pinWord);
  }

  /**
   * The record of channel `name`, created if needed, pinned (the caller unpins). `word`: see
   * `lookup` (only for a caller that clears it with `unpinTracked`).
   */
  pinChannel(name: string, word = 0): number {
    const cached = this.channels.get(name);
    if (cached !== undefined && this.core.x.pinRecord(cached.rec, cached.gen) === 1) return cached.rec;
    return this.lookup(KIND_CHANNEL, name, true, word);
  }

  /** The record of channel `name` pinned, or 0 when there is no such channel. */
  pinChannelIfExists(name: string): number {
    const cached = this.channels.get(name);
    if (cached !== undefined && this.core.x.pinRecord(cached.rec, cached.gen) === 1) return cached.rec;
    return this.lookup(KIND_CHANNEL, name, false);
  }

  /** The record of group `name` pinned (created when `create`), or 0 when there is none. */
  pinGroup(name: string, create: boolean): number {
    const cached = this.groups.get(name);
    if (cached !== undefined && this.core.x.pinRecord(cached.rec, cached.gen) === 1) return cached.rec;
    return this.lookup(KIND_GROUP, name, create);
  }

  /** The depth of every non-empty channel of the bus, by name (messages sent at or before `cutoff` do not count). */
  depths(cutoff: number): Record<string, number> {
    const depths: Record<string, number> = {};
    const x = this.core.x;
    const name = this.claimName();
    try {
      for (let from = 0; ; ) {
        const slot = x.nextDepth(from, cutoff, name);
        if (slot < 0) break;
        depths[this.readName(name, x.lastNameLength())] = x.lastDepth();
        from = slot + 1;
      }
    } finally {
      this.releaseName(name);
    }
    return depths;
  }

  /** Forget every resolved name (at close). */
  clear(): void {
    this.channels.clear();
    this.groups.clear();
  }

  /** Claim one of the region's name slots for the length of a call; the address of its name bytes. */
  private claimName(): number {
    const i32 = this.core.i32;
    const { base, count, size, data } = this.slots;
    for (let round = 0; round < 1000; round++) {
      for (let k = 0; k < count; k++) {
        const i = (this.hint + k) % count;
        const slot = base + i * size;
        if (Atomics.compareExchange(i32, slot >> 2, 0, 1) === 0) {
          this.hint = i;
          return slot + data;
        }
      }
    }
    throw new OutOfSharedMemory('names', `all ${count} name slots are busy (as many concurrent name lookups)`);
  }

  private releaseName(at: number): void {
    Atomics.store(this.core.i32, (at - this.slots.data) >> 2, 0);
  }

  private writeName(at: number, name: string): number {
    const u8 = this.core.u8;
    for (let i = 0; i < name.length; i++) u8[at + i] = name.charCodeAt(i);
    return name.length;
  }

  private readName(at: number, len: number): string {
    return String.fromCharCode(...this.core.u8.subarray(at, at + len));
  }

  /**
   * Look `name` up in the registry (creating it when `create`); returns it pinned, or 0.
   * `word`: a wait word of this instance's slot in which the core records the pin (0: none).
   */
  private lookup(kind: number, name: string, create: boolean, word = 0): number {
    const at = this.claimName();
    try {
      return this.lookupAt(at, kind, name, create, word);
    } finally {
      this.releaseName(at);
    }
  }

  private lookupAt(at: number, kind: number, name: string, create: boolean, word: number): number {
    const { core, opts, holds } = this.host;
    const x = core.x;
    const len = this.writeName(at, name);
    const cap = kind === KIND_CHANNEL ? opts.common.capacityOf(name) : 0;
    let full = 0;
    if (kind === KIND_CHANNEL) {
      const policy = opts.tradeoffs.fullOf(name);
      const lifo = opts.tradeoffs.orderOf(name) === 'lifo';
      if (lifo && policy === 'drop-oldest') throw new Unsupported(`channel '${name}': ${LIFO_DROP_OLDEST}`);
      full = FULL_CODES[policy] | (lifo ? LIFO_FLAG : 0);
    }
    let rec = x.lookup(kind, at, len, create ? 1 : 0, cap, full, word);
    if (rec === 0) {
      let status = x.lastStatus();
      if (status === STATUS.notFound) return 0;
      rec = this.host.relieve(() => x.lookup(kind, at, len, 1, cap, full, word));
      status = x.lastStatus();
      if (rec === 0 && status === STATUS.registryFull) {
        throw new OutOfSharedMemory(
          'registry',
          `no room for the name '${name}': ${opts.maxNames} names are in use (option maxNames)`,
        );
      }
      if (rec === 0) {
        const bytes = kind === KIND_CHANNEL ? Math.max(cap, 2) * 8 : RECORD_BYTES - BLOCK_HEADER;
        throw new OutOfSharedMemory(
          'arena',
          `no room for ${kind === KIND_CHANNEL ? `channel '${name}' (capacity ${cap}: a ${RECORD_BYTES}-byte record and a ring of ${bytes} bytes)` : `group '${name}'`}: ${this.host.shortage(bytes)}`,
        );
      }
    }
    const gen = x.lastGen();
    if (x.lastCreated() === 1) {
      x.sweep(SWEEP_STEP, Date.now() - opts.common.groupExpiryMs, Date.now() - opts.common.expiryMs);
      this.host.swept(); // what the sweep found belongs to other channels
    }
    const cache = kind === KIND_CHANNEL ? this.channels : this.groups;
    if (cache.size >= CACHE_LIMIT) {
      holds.dropAll();
      cache.clear();
    }
    const old = cache.get(name);
    if (old !== undefined) holds.drop(old);
    cache.set(name, { rec, gen, spinSkip: 0, spinBackoff: 0, held: 0, hot: false });
    return rec;
  }
}
