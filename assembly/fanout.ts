// Decode once per thread for fan-out: an instance that opted in (frozen messages) keeps the
// blocks of group sends it still expects to see again (a block reaches several of its member
// channels) together with their decoded, frozen value in JS. The cache holds a REFERENCE on
// each such block, so a cached handle cannot be freed and reused for another message while it
// is cached (no ABA: a handle popped later that equals a cached one is the same message).
//
// The references are recorded in a per-instance table (CACHE_ENTRIES words and a drop word, an
// arena block made when the instance starts caching, its address in the instance slot's word
// 32), so the reaper of a dead thread gives them back (`cacheRelease`, from `instanceFree`).
//
// Invariants: an entry is non-zero while it stands for a reference the cache holds. `cacheKeep`
// records the handle and forgets it as "being received" (arena.ts `untrack`) in one straight
// line, so the reference is always recorded in one of the two words. `cacheDrop` moves the
// handle to the drop word (an in-hand word like the receive word: `freeBlock` forgets it in
// the same straight line as the step that puts the block back on its page), clears the entry,
// then decrements; when that was not the last reference it clears the drop word straight
// after. So at every kill point a set drop word means: not decremented yet (refcount > 0: the
// reaper releases it) or last reference dropped and the block not yet freed (refcount 0: the
// reaper frees it); an entry equal to the drop word is the same reference.
//
// Termination safety: killed in `cacheTable`, the thread leaks at most the table block it was
// allocating (the slot word is stored last). Only the owner writes its entries while it lives.
// A reaper killed inside `cacheRelease` may leave references it did not reach (leaked blocks).

import { allocBlock, dropSlot, freeBlock, releaseBlock, trackDrop, untrack } from './arena';
import { BLOCK_HDR, B_REFS } from './layout';

/** Offset of the decode-cache table word in an instance slot. */
export const I_CACHE: usize = 32;
/** Entries of a decode-cache table (the drop word follows them). */
export const CACHE_ENTRIES: u32 = 16;
const DROP: usize = <usize>CACHE_ENTRIES * 4;

/** The first entry of the decode-cache table of the slot at `slot`, made if needed; 0 when the arena is full. */
export function cacheTable(slot: usize): u32 {
  let b = atomic.load<u32>(slot + I_CACHE);
  if (b == 0) {
    b = allocBlock(CACHE_ENTRIES * 4 + 4);
    if (b == 0) return 0;
    memory.fill(<usize>b + BLOCK_HDR, 0, DROP + 4);
    atomic.store<u32>(slot + I_CACHE, b);
  }
  trackDrop(<usize>b + BLOCK_HDR + DROP);
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
  if (h == 0 || dropSlot == 0) return;
  atomic.store<u32>(dropSlot, h);
  atomic.store<u32>(entry, 0);
  if (atomic.sub<i32>(<usize>h + B_REFS, 1) == 1) freeBlock(h); // forgets the drop word as it frees
  else atomic.store<u32>(dropSlot, 0);
}

/** Reap one recorded reference to `h`: refcount 0 means its last drop stopped before the free. */
function reapRef(h: u32): void {
  if (atomic.load<i32>(<usize>h + B_REFS) == 0) freeBlock(h);
  else releaseBlock(h);
}

/** Give back every reference of the slot at `slot`'s cache and free its table (close, or the reaper). */
export function cacheRelease(slot: usize): void {
  const b = atomic.load<u32>(slot + I_CACHE);
  if (b == 0) return;
  const base = <usize>b + BLOCK_HDR;
  if (dropSlot == base + DROP) trackDrop(0);
  const d = atomic.load<u32>(base + DROP);
  atomic.store<u32>(base + DROP, 0);
  for (let i: u32 = 0; i < CACHE_ENTRIES; i++) {
    const e = base + <usize>i * 4;
    const h = atomic.load<u32>(e);
    if (h == 0) continue;
    atomic.store<u32>(e, 0);
    if (h != d) reapRef(h); // (an entry equal to the drop word is that same reference)
  }
  if (d != 0) reapRef(d);
  atomic.store<u32>(slot + I_CACHE, 0);
  releaseBlock(b);
}
