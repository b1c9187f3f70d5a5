/**
 * Decode once per thread for fan-out, under the `frozenMessages` option: a group send puts
 * one block on every member channel, and a thread that drains several of those members would
 * otherwise copy and decode the same bytes once per member. With frozen messages, a received
 * message is deeply frozen and, while more deliveries of its block are pending (its refcount
 * says so), kept in a small per-instance cache keyed by its block; the next delivery of the same
 * block to this instance returns the same frozen value, with no copy and no decode.
 *
 * The cache holds a reference on each cached block (assembly/fanout.ts records it for the
 * reaper), so a cached handle cannot be reused for another message; an entry goes when its
 * block has no other reference left (checked at a hit and on a timer), when it was not
 * delivered again for a whole {@link CACHE_TICK_MS} tick, when the cache is full
 * (the oldest goes), before a full `reclaim()` or a relief step, and at close.
 *
 * A message holding bytes (a `Uint8Array`, which cannot be frozen) is never shared: it is
 * decoded for each delivery, its objects and arrays frozen all the same.
 *
 * @module
 */

import type { Message } from '../../layer.js';
import type { Core } from '../../wasm/core.js';

/** How often the cache gives back blocks nobody else references any more, in ms. */
export const CACHE_TICK_MS = 100;

/**
 * Freeze `value` and everything inside it (objects and arrays); false when it holds bytes
 * (array buffer views stay mutable, so such a value must not be shared).
 */
export function deepFreeze(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  if (ArrayBuffer.isView(value)) return false;
  let shareable = true;
  if (Array.isArray(value)) {
    for (const item of value) if (!deepFreeze(item)) shareable = false;
  } else {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) if (!deepFreeze(record[key])) shareable = false;
  }
  Object.freeze(value);
  return shareable;
}

interface Entry {
  entry: number;
  message: Message;
  /** Cached or hit since the last tick. */
  recent: boolean;
}

/** One layer instance's cache of decoded group sends. */
export class DecodeCache {
  private readonly byHandle = new Map<number, Entry>();
  private readonly free: number[] = [];
  private table = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Deliveries served from the cache (for tests and the bench). */
  hits = 0;

  /**
   * @param core this instance's core
   * @param instance this instance's id in the instance table (0: none, then nothing is cached)
   * @param held true while this instance still holds its instance slot (undefined: always):
   *   checked before the table is written outside an operation
   */
  constructor(
    private readonly core: Core,
    private readonly instance: number,
    private readonly held?: () => boolean,
  ) {
    this.open(); // now: the table block belongs to the instance from its start
  }

  /**
   * Message `h`, just received by this instance (which owns one reference): the cached frozen
   * value of its block, or `decode(h)` frozen (and cached while more deliveries are pending).
   * The reference is released or kept by the cache either way.
   */
  take(h: number, decode: (h: number) => Message): Message {
    const x = this.core.x;
    const hit = this.byHandle.get(h);
    if (hit !== undefined) {
      x.release(h);
      // The block's refcount word (at h, as x.blockRefs reads it), without a call into wasm.
      if (Atomics.load(this.core.i32, h >>> 2) === 1) this.drop(h, hit); // only the cache's reference is left
      else hit.recent = true;
      this.hits++;
      return hit.message;
    }
    const message = decode(h);
    if (!deepFreeze(message) || x.blockRefs(h) <= 1) {
      x.release(h);
      return message;
    }
    const entry = this.entry();
    if (entry === 0) {
      x.release(h);
      return message;
    }
    x.decodeCacheKeep(entry, h);
    this.byHandle.set(h, { entry, message, recent: true });
    return message;
  }

  /**
   * An entry of the table for a borrow (shared/borrow.ts), taken from the cache (its oldest
   * cached block is given back when no entry is free); 0 when every entry is lent or there is
   * no table. The entry is the borrower's until {@link DecodeCache.giveBack}.
   */
  lend(): number {
    if (this.held !== undefined && !this.held()) return 0;
    return this.entry();
  }

  /** A lent entry comes back empty (its borrower dropped the reference with decodeCacheDrop). */
  giveBack(entry: number): void {
    if (this.table !== 0) this.free.push(entry);
  }

  /** Give back every block the cache holds. */
  flush(): void {
    if (this.byHandle.size === 0) return;
    if (this.held !== undefined && !this.held()) return this.close(); // the slot is not ours any more
    for (const [h, e] of this.byHandle) this.drop(h, e);
  }

  /** Forget everything (the core's instanceFree gives the blocks back). */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.byHandle.clear();
    this.free.length = 0;
    this.table = 0;
  }

  /** A free entry (the oldest entry is given back when none is), 0 when there is no table. */
  private entry(): number {
    const e = this.free.pop();
    if (e !== undefined) return e;
    const oldest = this.byHandle.entries().next();
    if (oldest.done === true) return 0;
    this.drop(oldest.value[0], oldest.value[1]);
    return this.free.pop() ?? 0;
  }

  private drop(h: number, e: Entry): void {
    this.core.x.decodeCacheDrop(e.entry);
    this.byHandle.delete(h);
    this.free.push(e.entry);
  }

  private open(): void {
    const x = this.core.x;
    this.table = this.instance === 0 ? 0 : x.decodeCacheTable(this.instance);
    if (this.table === 0) return;
    for (let i = x.decodeCacheEntries() - 1; i >= 0; i--) this.free.push(this.table + i * 4);
    const self = new WeakRef(this); // the timer must not keep a forgotten layer alive
    const timer = setInterval(() => {
      const me = self.deref();
      if (me === undefined) clearInterval(timer);
      else me.sweep();
    }, CACHE_TICK_MS);
    timer.unref?.();
    this.timer = timer;
  }

  /**
   * Give back the blocks nobody else references any more, and those not delivered again
   * during a whole tick (other threads' caches may hold the other references).
   */
  private sweep(): void {
    if (this.byHandle.size === 0) return;
    if (this.held !== undefined && !this.held()) return this.close(); // the slot is not ours any more
    const x = this.core.x;
    for (const [h, e] of this.byHandle) {
      if (!e.recent || x.blockRefs(h) === 1) this.drop(h, e);
      else e.recent = false;
    }
  }
}
