/**
 * Giving shared memory back: the reclamation-epoch announcements of a layer instance, the
 * full `reclaim()`, the bounded relief a failed allocation runs, and what an
 * OutOfSharedMemory error says about the arena.
 *
 * Announcing (see assembly/epoch.ts): the memory of a reclaimed channel or group record is
 * reused for other blocks only after every instance announced a later epoch, i.e. dropped the
 * cached names whose record died. An instance announces only where it holds no unpinned
 * record address: on a timer between its operations, and in the public `reclaim()`. A cached
 * (record, generation) is only ever used synchronously right after it is read from the cache,
 * and across an await an operation holds pinned records only. Nothing runs per operation.
 *
 * @module
 */

import type { Core } from '../../wasm/core.js';

/** How often an instance announces (and lets grace periods end), in ms. */
export const ANNOUNCE_MS = 100;
/** Registry slots one relief step visits at least (a failed allocation runs up to {@link RELIEF_STEPS}). */
const STEP_SLOTS = 4096;
/** Relief steps per failed allocation: together at most one pass over the registry. */
export const RELIEF_STEPS = 4;
/** Records freed per drain of the limbo lists. */
const DRAIN_MAX = 1 << 30;

/** A cache of name -> (record, generation). */
export interface RecordCache {
  forEach(fn: (value: { rec: number; gen: number }, key: string) => void): void;
  delete(key: string): boolean;
}

/** Expiry of the bus (ms): group members added and messages sent that long ago are expired. */
export interface Expiries {
  readonly groupExpiryMs: number;
  readonly expiryMs: number;
}

/** One layer instance's part in giving memory back. */
export class Reclaimer {
  private readonly epochIndex: number;
  /** Int32 index of this instance's announcement word; -1 without an instance slot. */
  private readonly announceIndex: number;
  private seen = -1;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly cutoffs: { group(): number; message(): number };

  /**
   * @param core this instance's core
   * @param slot address of this instance's slot in the instance table (0: none)
   * @param caches the name caches to drop dead records from
   * @param expiries the bus's expiries, for the sweeps
   * @param holdsSlot false once the slot was reclaimed from this instance (shared/liveness.ts):
   *   it then never announces into it again (it must not close over the layer)
   */
  constructor(
    private readonly core: Core,
    slot: number,
    private readonly caches: readonly RecordCache[],
    expiries: Expiries,
    private readonly holdsSlot: () => boolean = () => true,
  ) {
    const x = core.x;
    this.epochIndex = x.epochWord() >> 2;
    this.announceIndex = slot === 0 ? -1 : (slot + x.announceOffset()) >> 2;
    this.cutoffs = {
      group: () => Date.now() - expiries.groupExpiryMs,
      message: () => Date.now() - expiries.expiryMs,
    };
    const untracked = slot === 0;
    if (untracked) x.untrackedInstance(1);
    // The timer holds this reclaimer weakly (and nothing of the layer): a layer collected
    // without close() (its slot is then freed by shared/lifetime.ts) stops announcing at once,
    // and must never announce into a slot that another instance may own by then.
    const self = new WeakRef(this);
    const timer = setInterval(() => {
      const me = self.deref();
      if (me !== undefined) return me.tick();
      clearInterval(timer);
      if (untracked) x.untrackedInstance(-1);
    }, ANNOUNCE_MS);
    timer.unref?.();
    this.timer = timer;
  }

  /** Stop announcing (the instance closes; the caller frees its slot right after). */
  close(): void {
    clearInterval(this.timer);
    if (this.announceIndex < 0) this.core.x.untrackedInstance(-1);
  }

  /**
   * Announce the current epoch: drop cached records that died, then store the epoch read
   * BEFORE the check in the instance slot. Only where no unpinned record address is held.
   */
  announce(): void {
    if (this.announceIndex < 0 || !this.holdsSlot()) return;
    const epoch = Atomics.load(this.core.i32, this.epochIndex);
    if (epoch === this.seen) return;
    const x = this.core.x;
    for (const cache of this.caches) {
      cache.forEach((ref, name) => {
        if (x.recordLive(ref.rec, ref.gen) === 0) cache.delete(name);
      });
    }
    Atomics.store(this.core.i32, this.announceIndex, epoch);
    this.seen = epoch;
  }

  /** The timer: announce, and end grace periods that are due. */
  private tick(): void {
    this.announce();
    const x = this.core.x;
    if (x.recordsPooled() > 0) {
      x.graceAdvance();
      x.graceDrain(DRAIN_MAX);
    }
  }

  /** End what grace periods can end now (advancing as far as every instance allows), free what is due. */
  private grace(announce: boolean): number {
    const x = this.core.x;
    for (let i = 0; i < 3 && x.recordsPooled() > 0; i++) {
      if (announce) this.announce();
      if (x.graceAdvance() === 0) break;
    }
    if (announce) this.announce();
    return x.graceDrain(DRAIN_MAX);
  }

  /**
   * Everything now: sweep the whole registry (expired members and messages dropped, unused
   * records reclaimed) until a pass finds nothing (at most 4 passes: a channel that was an
   * expired member becomes free on the pass after its group dropped it), give every block in
   * the magazines back to its page, retire empty slab pages, end the grace periods every instance allows. Returns the records reclaimed.
   */
  full(): number {
    const x = this.core.x;
    let total = 0;
    for (let pass = 0; pass < 4; pass++) {
      const n = x.sweep(x.slots(), this.cutoffs.group(), this.cutoffs.message());
      total += n;
      if (n === 0) break;
    }
    this.grace(true);
    x.magazinesFlush(); // every block cached in a magazine back to its page (assembly/magazine.ts)
    x.trimPages(0, 1);
    return total;
  }

  /**
   * One bounded step for a failed allocation (never a full loop: a stall near a full arena
   * is worse than an error): a quarter of the registry (at least {@link STEP_SLOTS} slots)
   * from the shared cursor, the grace periods other instances allow (no announcement here:
   * the caller may hold a cached record address), and empty slab pages back to the pool.
   */
  relieve(): void {
    const x = this.core.x;
    x.sweep(Math.max(STEP_SLOTS, Math.ceil(x.slots() / RELIEF_STEPS)), this.cutoffs.group(), this.cutoffs.message());
    this.grace(false);
    x.trimPages(0, 1);
  }

  /**
   * Why `bytes` payload bytes did not fit, for an OutOfSharedMemory message (after the
   * relief steps), in the arena's own figures.
   */
  shortage(bytes: number): string {
    const x = this.core.x;
    const page = x.pageSize();
    const free = x.arenaFree();
    const total = x.arenaTotal();
    const run = x.longestRun() * page;
    const need = bytes + 16;
    const parts = [`${free} of ${total} arena bytes are free`];
    if (need > page / 2) {
      parts.push(`a block of ${need} bytes needs ${Math.ceil(need / page)} free pages in a row and the longest run is ${x.longestRun()} pages (${run} bytes)`);
    } else if (x.freePages() === 0) {
      parts.push(`no page is free and no page of its size class has room (the free bytes are in pages that hold live blocks of other sizes)`);
    }
    const pooled = x.recordsPooled();
    if (pooled > 0) parts.push(`${pooled} reclaimed records wait for every layer instance to announce a later epoch (within ${ANNOUNCE_MS} ms of an active instance)`);
    parts.push('live messages, channels and groups hold the rest: it frees up as messages are received or expire and unused channels are reclaimed');
    return parts.join('; ');
  }
}
