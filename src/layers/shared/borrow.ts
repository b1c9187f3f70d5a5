/**
 * Borrowed receives on the shared layer (`receiveBorrowed`, contract: {@link Borrowed} in
 * src/layer.ts): the message is decoded straight from its block in the shared memory, its
 * byte strings are views of that block (no copy out), and the block's reference is kept
 * until `release()`, so the block cannot be freed and reused for another message while a
 * view of it may be read.
 *
 * Where the reference is kept: in an entry of the instance's reference table in the shared
 * memory (assembly/fanout.ts, the table of the decode cache, {@link MAX_BORROWS} entries), so
 * that a thread killed while holding borrows gives their blocks back through the reaper
 * (`instanceFree` releases every entry), and so does `close()`. `decodeCacheKeep` moves the
 * reference from the "being received" word into the entry in one straight line, and
 * `decodeCacheDrop` gives it back kill-safely (fanout.ts says how). With `frozenMessages`
 * the decode cache owns the table and lends entries (a borrow evicts cached blocks).
 *
 * A borrow gets private copies instead (the same contract, no gain) when the block has
 * other references (a group send still queued for other members: their message must not be
 * written through this one's views), when every entry is lent, or when the instance has no
 * slot in the instance table.
 *
 * After `close()` (or once the instance lost its slot) `release()` touches nothing: the
 * table and its references are gone with the instance.
 *
 * Also here: where a message block's encoding starts and how long it is (its length word
 * carries an alignment padding, see {@link PAD_SHIFT}), and the private buffer a plain receive
 * copies a large message into ({@link ownBuffer}).
 *
 * @module
 */

import { MAX_BORROWS, type Borrowed, type Message } from '../../layer.js';
import { BLOCK_HEADER, type Core } from '../../wasm/core.js';
import { copiedBorrow } from '../borrow.js';

/**
 * A message block's length word (at h + 4) holds the encoded length in its low 29 bits and,
 * in its top 3, the padding (0-7 bytes) before the encoding: the sender may start the encoding
 * a few bytes into the block so that a large byte string in it is aligned as its source was
 * (V8 copies into and out of shared memory fast only between addresses aligned alike mod 8).
 */
export const PAD_SHIFT = 29;
/** Largest encoded length a padded block can say (a padded message is at most this long). */
export const PADDED_MAX = (1 << PAD_SHIFT) - 1;

/** Where the encoding of block `h` starts. */
export function messageStart(u32: Uint32Array, h: number): number {
  return h + BLOCK_HEADER + ((u32[(h + 4) >>> 2] as number) >>> PAD_SHIFT);
}

/** Encoded length of block `h`. */
export function messageLength(u32: Uint32Array, h: number): number {
  return (u32[(h + 4) >>> 2] as number) & PADDED_MAX;
}

/**
 * A buffer of its own for `len` bytes at offset `skew` (< 8): not zero-filled first (the copy
 * that follows overwrites all `len` bytes; a zeroed 64 KiB buffer was most of a plain 64 KiB
 * receive's profile), its `skew` leading bytes zeroed so that nothing stale is ever visible
 * through `.buffer`. `allocUnsafeSlow` never hands out a slice of Node's shared pool: the
 * ArrayBuffer is exactly `len + skew` bytes and nobody else's.
 */
export function ownBuffer(len: number, skew: number): Uint8Array {
  const buffer = Buffer.allocUnsafeSlow(len + skew).buffer;
  const all = new Uint8Array(buffer);
  if (skew !== 0) all.fill(0, 0, skew);
  return all.subarray(skew);
}

/** Where borrows keep their references: the decode cache's table, or the instance's own. */
export interface EntrySource {
  /** A free table entry, 0 when none. */
  lend(): number;
  /** Entry `entry`, emptied by decodeCacheDrop, is free again. */
  giveBack(entry: number): void;
}

/** The instance's reference table, opened at the first borrow (no decode cache). */
export class TableEntries implements EntrySource {
  private readonly free: number[] = [];
  private opened = false;

  constructor(
    private readonly core: Core,
    private readonly instance: number,
    private readonly held?: () => boolean,
  ) {}

  lend(): number {
    if (this.held !== undefined && !this.held()) return 0;
    if (!this.opened) {
      if (this.instance === 0) return 0;
      const x = this.core.x;
      const table = x.decodeCacheTable(this.instance);
      if (table === 0) return 0; // no room for the table right now: copy, try again next time
      this.opened = true;
      for (let i = x.decodeCacheEntries() - 1; i >= 0; i--) this.free.push(table + i * 4);
    }
    return this.free.pop() ?? 0;
  }

  giveBack(entry: number): void {
    this.free.push(entry);
  }
}

/** What the borrows need of their layer. */
export interface BorrowHost {
  readonly core: Core;
  readonly entries: EntrySource;
  /** True while this instance still holds its instance slot (undefined: no slot to lose). */
  readonly held: (() => boolean) | undefined;
  /** Copy message `h` out and decode the copy (private bytes); the caller releases `h`. */
  copyOut(h: number): Message;
  /** Decode `bytes` (in shared memory) with byte strings as views of them (the layer's codec). */
  decodeViews(bytes: Uint8Array): Message;
}

/** One instance's borrows. */
export class Borrows {
  /** Incremented at close: a borrow of an earlier epoch releases nothing. */
  private epoch = 0;
  /** Borrows out now (held in shared memory), for stats and tests. */
  out = 0;

  constructor(private readonly host: BorrowHost) {
    if (host.core.x.decodeCacheEntries() !== MAX_BORROWS) {
      throw new Error(`the core's reference table has ${host.core.x.decodeCacheEntries()} entries, MAX_BORROWS says ${MAX_BORROWS}`);
    }
  }

  /** Message `h`, just taken by this instance (one reference, tracked as being received), borrowed. */
  take(h: number): Borrowed {
    const host = this.host;
    const x = host.core.x;
    const entry = x.blockRefs(h) === 1 ? host.entries.lend() : 0;
    if (entry === 0) {
      let message: Message;
      try {
        message = host.copyOut(h);
      } finally {
        x.release(h);
      }
      return copiedBorrow(message);
    }
    let message: Message;
    try {
      const len = messageLength(host.core.u32, h);
      const start = messageStart(host.core.u32, h);
      message = host.decodeViews(host.core.u8.subarray(start, start + len));
    } catch (err) {
      host.entries.giveBack(entry);
      x.release(h);
      throw err;
    }
    x.decodeCacheKeep(entry, h);
    this.out++;
    return new SharedBorrow(this, message, entry, this.epoch);
  }

  /** Give back the reference of a borrow: false when it was given back already (or the instance closed). */
  drop(entry: number, epoch: number): boolean {
    if (epoch !== this.epoch) return false; // closed since: the table went with the instance
    const host = this.host;
    this.out--;
    if (host.held !== undefined && !host.held()) return true; // the reaper gave it back already
    host.core.x.decodeCacheDrop(entry);
    host.entries.giveBack(entry);
    return true;
  }

  /** True while borrows of `epoch` still hold their references (the instance did not close since). */
  current(epoch: number): boolean {
    return epoch === this.epoch;
  }

  /** The instance closes: its references go with its slot (instanceFree). */
  close(): void {
    this.epoch++;
    this.out = 0;
  }
}

class SharedBorrow implements Borrowed {
  private done = false;
  readonly release: () => boolean;

  constructor(
    private readonly owner: Borrows,
    readonly message: Message,
    entry: number,
    private readonly epoch: number,
  ) {
    this.release = (): boolean => {
      if (this.done) return false;
      this.done = true;
      return owner.drop(entry, epoch);
    };
  }

  get released(): boolean {
    return this.done || !this.owner.current(this.epoch);
  }
}
