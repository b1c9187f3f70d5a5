// The message arena: lock-free allocation of variable-length blocks in shared memory.
//
// Algorithm: segregated size classes, each with a Treiber stack (lock-free LIFO free list)
// whose head is a TAGGED 64-bit word (tag << 32 | block address). Every successful push or
// pop increments the tag, so a pop that read head A, then lost the CPU while A was popped and
// pushed back (the ABA problem), fails its CAS instead of installing a stale `next`. Blocks
// that no free list can serve are carved from a bump region (one CAS on the bump pointer).
// Blocks are never split or merged: memory held by a class is bounded by the peak number of
// live blocks of that class.
//
// Size classes: 32 bytes, then four classes per power of two (40, 48, 56, 64, 80, 96, ...),
// so a block wastes at most 25% of its size.
//
// Invariants:
//  - a block is in at most one free list, and a block in a free list has refcount 0;
//  - `next` of a free block is only read by `pop`, and a stale read is harmless: the pop's
//    CAS fails because the tag moved (any address read is inside the memory, never a fault);
//  - free bytes == (arena end - bump) + sum over classes of (free count x class size), exact
//    whenever no allocation is in flight (`arenaFree`, checked by the exhaustion test).
//
// Reference counts: a message block starts at 1 (its sender). Each queue that holds the
// handle owns one reference; `groupSend` adds one per member before enqueueing. `release`
// drops one and frees the block on the last.

import {
  B_LEN, B_REFS, B_TIME, BLOCK_HDR, H_ARENA, H_BUMP, H_CLASSFREE, H_CLASSHEAD, H_END,
  NUM_CLASSES, hdr,
} from './layout';

/** Size class of a block of `size` bytes (header included). */
export function classOf(size: u32): u32 {
  if (size <= 32) return 0;
  const s = size - 1;
  const k: u32 = 31 - clz<u32>(s);
  const sub = (s >> (k - 2)) & 3;
  return (k - 5) * 4 + sub + 1;
}

/** Block size of class `c`. */
export function classSize(c: u32): u32 {
  if (c == 0) return 32;
  const k = (c - 1) / 4 + 5;
  const sub = (c - 1) % 4;
  return (4 + sub + 1) << (k - 2);
}

/** Treiber pop from the tagged head at `head`; 0 when empty. */
export function popTagged(head: usize): u32 {
  while (true) {
    const h = atomic.load<u64>(head);
    const p = <u32>h;
    if (p == 0) return 0;
    const next = atomic.load<u32>(<usize>p);
    const nh = (((h >> 32) + 1) << 32) | <u64>next;
    if (atomic.cmpxchg<u64>(head, h, nh) == h) return p;
  }
}

/** Treiber push of block `p` onto the tagged head at `head`. */
export function pushTagged(head: usize, p: u32): void {
  while (true) {
    const h = atomic.load<u64>(head);
    atomic.store<u32>(<usize>p, <u32>h);
    const nh = (((h >> 32) + 1) << 32) | <u64>p;
    if (atomic.cmpxchg<u64>(head, h, nh) == h) return;
  }
}

function bump(size: u32): u32 {
  const end = atomic.load<u32>(hdr(H_END));
  while (true) {
    const cur = atomic.load<u32>(hdr(H_BUMP));
    if (<u64>cur + <u64>size > <u64>end) return 0;
    if (atomic.cmpxchg<u32>(hdr(H_BUMP), cur, cur + size) == cur) return cur;
  }
}

/**
 * A block with room for `len` payload bytes, refcount 1; 0 when the arena has no block of
 * that class left (or the size is beyond every class).
 */
export function allocBlock(len: u32): u32 {
  if (len > 0x40000000) return 0;
  const c = classOf(len + <u32>BLOCK_HDR);
  if (c >= <u32>NUM_CLASSES) return 0;
  let p = popTagged(hdr(H_CLASSHEAD) + <usize>c * 8);
  if (p != 0) atomic.sub<i32>(hdr(H_CLASSFREE) + <usize>c * 4, 1);
  else {
    p = bump(classSize(c));
    if (p == 0) return 0;
  }
  store<u32>(<usize>p, 1, B_REFS);
  store<u32>(<usize>p, len, B_LEN);
  store<f64>(<usize>p, 0, B_TIME);
  return p;
}

/** Return block `p` (refcount already 0) to its class's free list. */
export function freeBlock(p: u32): void {
  const c = classOf(load<u32>(<usize>p, B_LEN) + <u32>BLOCK_HDR);
  pushTagged(hdr(H_CLASSHEAD) + <usize>c * 8, p);
  atomic.add<i32>(hdr(H_CLASSFREE) + <usize>c * 4, 1);
}

/** Drop one reference to block `p`; the last one frees it. */
export function releaseBlock(p: u32): void {
  if (atomic.sub<i32>(<usize>p + B_REFS, 1) == 1) freeBlock(p);
}

/** Add `n` references to block `p` (the caller already holds one). */
export function retainBlock(p: u32, n: i32): void {
  atomic.add<i32>(<usize>p + B_REFS, n);
}

/** Free bytes: uncarved bump space plus every free-listed block (see the invariant above). */
export function freeBytes(): f64 {
  let free: f64 = <f64>(atomic.load<u32>(hdr(H_END)) - atomic.load<u32>(hdr(H_BUMP)));
  for (let c: u32 = 0; c < <u32>NUM_CLASSES; c++) {
    const n = atomic.load<i32>(hdr(H_CLASSFREE) + <usize>c * 4);
    if (n > 0) free += <f64>n * <f64>classSize(c);
  }
  return free;
}

/** Arena bytes: end - start. */
export function totalBytes(): f64 {
  return <f64>(load<u32>(hdr(H_END)) - load<u32>(hdr(H_ARENA)));
}
