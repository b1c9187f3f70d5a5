/**
 * Instance-held pins on hot channels (see assembly/holds.ts): a channel this instance sends
 * to or receives from keeps one pin of this instance for as long as it stays hot, so the fast
 * paths push and pop on the record without pinning and unpinning it per operation (the
 * record's ctl word then stays in every core's cache, read-only).
 *
 * A hold is taken at the first fast-path use of a cached channel (while the hold table has a
 * free entry) and dropped:
 *  - when the channel went cold: no fast-path use during a whole {@link HOLD_TICK_MS} period;
 *  - before this instance's full `reclaim()` and before a relief step of a failed allocation
 *    (a held channel cannot be reclaimed);
 *  - when another instance's `reclaim()` asked (it bumps the bus's hold-release word; every
 *    instance drops its holds at its next tick);
 *  - when the cache is cleared, and at close (the core's `instanceFree` drops what is left,
 *    and the reaper of a dead thread does the same for it).
 * Holds are dropped only between operations (a timer) or before the cached record is read for
 * the operation at hand, so a fast path that found a hold uses a record that is still pinned.
 *
 * @module
 */

import type { Core } from '../../wasm/core.js';

/** How often an instance drops the holds of channels that went cold, in ms. */
export const HOLD_TICK_MS = 100;

/** A cached channel that may be held. */
export interface Holdable {
  readonly rec: number;
  readonly gen: number;
  /** Address of the hold entry of this instance's pin on it (0: not held). */
  held: number;
  /** Used by a fast path since the last tick. */
  hot: boolean;
}

/** One layer instance's holds. */
export class Holds {
  private readonly free: number[] = [];
  private readonly refs = new Set<Holdable>();
  private readonly requestIndex: number;
  private seenRequest: number;
  private timer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param core this instance's core
   * @param instance this instance's id in the instance table (0: none, then nothing is held)
   * @param held true while this instance still holds its instance slot (undefined: always):
   *   checked before the hold table is written outside an operation
   */
  constructor(
    private readonly core: Core,
    instance: number,
    private readonly held?: () => boolean,
  ) {
    const x = core.x;
    const base = instance === 0 ? 0 : x.holdTable(instance);
    if (base !== 0) for (let i = x.holdEntries() - 1; i >= 0; i--) this.free.push(base + i * 4);
    this.requestIndex = x.holdRequestWord() >> 2;
    this.seenRequest = Atomics.load(core.i32, this.requestIndex);
    if (base === 0) return;
    // The timer holds this object weakly (a layer collected without close() stops here).
    const self = new WeakRef(this);
    const timer = setInterval(() => {
      const me = self.deref();
      if (me === undefined) clearInterval(timer);
      else me.tick();
    }, HOLD_TICK_MS);
    timer.unref?.();
    this.timer = timer;
  }

  /** Hold `ref` if an entry is free (a fast path just used it). */
  take(ref: Holdable): void {
    const entry = this.free.pop();
    if (entry === undefined) return;
    if (this.core.x.holdRecord(ref.rec, ref.gen, entry) === 1) {
      ref.held = entry;
      ref.hot = true;
      this.refs.add(ref);
    } else {
      this.free.push(entry);
    }
  }

  /** Drop the hold on `ref` (if any). */
  drop(ref: Holdable): void {
    if (ref.held === 0) return;
    if (this.held !== undefined && !this.held()) return this.close(); // the slot is not ours any more
    this.core.x.releaseHold(ref.held);
    this.free.push(ref.held);
    ref.held = 0;
    this.refs.delete(ref);
  }

  /** Drop every hold of this instance. */
  dropAll(): void {
    if (this.refs.size === 0) return;
    if (this.held !== undefined && !this.held()) return this.close(); // the slot is not ours any more
    for (const ref of this.refs) this.drop(ref);
  }

  /** Ask every instance of the bus to drop its holds at its next tick (before a full reclaim). */
  requestRelease(): void {
    Atomics.add(this.core.i32, this.requestIndex, 1);
    this.seenRequest = Atomics.load(this.core.i32, this.requestIndex);
  }

  /** Holds in effect. */
  get size(): number {
    return this.refs.size;
  }

  /** Stop the timer and forget the holds (the core's instanceFree drops the pins). */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const ref of this.refs) ref.held = 0;
    this.refs.clear();
    this.free.length = 0;
  }

  /** Drop the holds of channels that went cold (all of them when another instance asked). */
  private tick(): void {
    const request = Atomics.load(this.core.i32, this.requestIndex);
    if (request !== this.seenRequest) {
      this.seenRequest = request;
      this.dropAll();
      return;
    }
    if (this.refs.size === 0) return;
    for (const ref of this.refs) {
      if (ref.hot) ref.hot = false;
      else this.drop(ref);
    }
  }
}
