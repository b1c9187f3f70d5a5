// Decode once per thread for fan-out: an instance that opted in (frozen messages) keeps the
// blocks of group sends it still expects to see again (a block reaches several of its member
// channels) together with their decoded, frozen value in JS. The cache holds a REFERENCE on
// each such block, so a cached handle cannot be freed and reused for another message while it
// is cached (no ABA: a handle popped later that equals a cached one is the same message).
//
// The references are recorded in a per-instance table (CACHE_ENTRIES words, an arena block
// made at the instance's first use of the cache, its address in the instance slot's word 28),
// so the reaper of a dead thread gives them back (`cacheRelease`, from `instanceFree`).
//
// Invariants: an entry is non-zero while it stands for a reference the cache holds. `cacheKeep`
// records the handle and forgets it as "being received" (queue.ts `untrack`) in one straight
// line, so the reference is always recorded in exactly one of the two words. `cacheDrop`
// decrements first and clears the entry after: the only kill point in between is the entry of
// `freeBlock` on the last reference, which the reaper recognises by a refcount of 0 (as for
// the in-hand words, queue.ts `releaseOwned`).
//
// Termination safety: killed in `cacheTable`, the thread leaks at most the table block it was
// allocating (the slot word is stored last). Only the owner writes its entries while it lives.

import { allocBlock, freeBlock, releaseBlock } from './arena';
import { BLOCK_HDR, B_REFS } from './layout';
import { untrack } from './queue';

/** Offset of the decode-cache table word in an instance slot. */
export const I_CACHE: usize = 28;
/** Entries of a decode-cache table. */
export const CACHE_ENTRIES: u32 = 16;

/** The first entry of the decode-cache table of the slot at `slot`, made if needed; 0 when the arena is full. */
export function cacheTable(slot: usize): u32 {
  let b = atomic.load<u32>(slot + I_CACHE);
  if (b == 0) {
    b = allocBlock(CACHE_ENTRIES * 4);
    if (b == 0) return 0;
    memory.fill(<usize>b + BLOCK_HDR, 0, <usize>CACHE_ENTRIES * 4);
    atomic.store<u32>(slot + I_CACHE, b);
  }
  return b + <u32>BLOCK_HDR;
}

/** The cache keeps this instance's reference to block `h` (just received) in entry `entry`. */
export function cacheKeep(entry: usize, h: u32): void {
  atomic.store<u32>(entry, h);
  untrack(h);
}

/** Give back the reference recorded in entry `entry` (if any). */
export function cacheDrop(entry: usize): void {
  const h = atomic.load<u32>(entry);
  if (h == 0) return;
  if (atomic.sub<i32>(<usize>h + B_REFS, 1) == 1) freeBlock(h);
  atomic.store<u32>(entry, 0);
}

/** Give back every reference of the slot at `slot`'s cache and free its table (close, or the reaper). */
export function cacheRelease(slot: usize): void {
  const b = atomic.load<u32>(slot + I_CACHE);
  if (b == 0) return;
  const base = <usize>b + BLOCK_HDR;
  for (let i: u32 = 0; i < CACHE_ENTRIES; i++) {
    const e = base + <usize>i * 4;
    const h = atomic.load<u32>(e);
    if (h == 0) continue;
    atomic.store<u32>(e, 0);
    if (atomic.load<i32>(<usize>h + B_REFS) == 0) freeBlock(h); // died inside cacheDrop's free
    else releaseBlock(h);
  }
  atomic.store<u32>(slot + I_CACHE, 0);
  releaseBlock(b);
}
