// The arena: lock-free allocation of variable-length blocks in shared memory, in which free
// memory is reusable for ANY size once the blocks around it are free.
//
// Algorithm: a page allocator with size-class slabs on top (the scheme of mimalloc and
// snmalloc: segregated pages whose blocks all have one size, each page with its own free
// list, a page going back to the shared pool when its last block is freed).
//
//  - Pages: the arena is cut into PAGE_SIZE (16 KiB) pages. A bitmap (one bit per page, 1 =
//    free, u64 words) is the page pool. One page is claimed by one CAS that clears its bit
//    (first fit from the LOW end); a run of n pages for a large block is found from the HIGH
//    end (so runs and slab pages do not interleave) and claimed word by word, each word by
//    one CAS that clears exactly the run's bits of that word and only if they were all set; a
//    failed word rolls back the words already claimed and the search starts again. Freeing
//    sets the bits again (atomic or). Nothing is ever split or merged by hand: adjacency in
//    the bitmap IS the coalescing, so any free pages form runs of any size.
//  - Slabs: blocks of at most PAGE_SIZE / 2 bytes (header included) come from slab pages of
//    their size class (32 bytes, then four classes per power of two: 40, 48, 56, 64, 80, ...,
//    8192; a block wastes at most 25 % of its size). Each page has a descriptor (32 bytes, in a
//    table next to the bitmaps):
//      0  state word (u64): used (16 bits) | class (8) | state (2: FREE, SLAB, RUN) | tag (32)
//      8  free-list head (u64): tag << 32 | block address   (a Treiber stack inside the page)
//      16 carved: blocks handed out at least once (the page is carved lazily, no set-up loop)
//      20 pages of a run (RUN only)          24..31 reserved
//    An allocation RESERVES a block by one CAS on the state word (used + 1, only if the page
//    is a SLAB of its class and used < capacity), then takes a block: a pop from the page's
//    free list, else the next never-carved block (CAS on `carved`). A free pushes the block on
//    the page's free list, then releases its unit by one CAS on the state word (used - 1);
//    the free that takes used from 1 to 0 RETIRES the page in the same CAS (state FREE, tag +
//    1) and gives it back to the pool (sets its bit), unless it is its class's current page
//    (hysteresis: a ping-pong of one message would otherwise claim and retire a page per
//    message; `trimPages` retires those). A concurrent allocator either reserved first (then
//    used > 0 and the free does not retire) or sees FREE and moves on: the CAS on one word
//    decides, and the tag makes a page retired and re-used meanwhile (even for the same class
//    and count) a different word.
//  - Finding a page with room: per class, a current-page hint (u32, page + 1) and a bitmap of
//    pages that may have room ("partial"). A free that takes a page from full to not full
//    sets its bit (straight after the CAS); an allocator that finds a set page full or of
//    another class clears the bit and then re-reads the state word, setting the bit again if
//    the page has room: so every SLAB page with room has its bit set (a freer's set comes after
//    the clear, or the re-read sees the freer's decrement). Stale bits and hints are harmless:
//    the reservation CAS checks the state word.
//  - Large blocks (more than PAGE_SIZE / 2 bytes): a run of whole pages, its length in the
//    descriptor of its first page (state RUN).
//
// Invariants:
//  - a page whose bit is set in the pool is FREE and no block of it is allocated; the pages
//    of a run have their bits clear from the claim to the free;
//  - for a SLAB page: used = blocks allocated + reservations not yet served, so the free list
//    plus the never-carved blocks hold at least one block for every pending reservation, and
//    the page cannot be retired while a block of it is out or reserved (used > 0);
//  - a block is in at most one free list; a free block's first word is its link. `next` of a
//    free block is only read by a pop, and a stale read is harmless: the pop's CAS fails
//    because the tag of the head moved (any address read is inside the memory, which is
//    never unmapped, so a stale read never faults);
//  - freeBytes = pool pages x PAGE_SIZE + over SLAB pages (PAGE_SIZE - used x class size) +
//    the blocks held in magazines (magazine.ts): every arena byte not held by an allocated
//    block (a block holds its class size, a run its pages). It does not depend on how free
//    memory is arranged, and it is exact whenever no allocation is in flight (`freeBytes`, checked by the fragmentation and churn tests).
//
// Termination safety (V8 stops a thread only at a function entry or a loop back-edge): each
// step takes effect by one CAS, and between a page claim and its publication as a slab (state
// word, free list, carved, partial bit, current hint) there is no call and no back-edge, so a
// killed thread never leaves a claimed page unpublished. A thread killed at any instruction
// leaks at most what it held: the block it was allocating (or its reservation: one unit of
// its page) or freeing, or, for a run, the pages of that run claimed so far (claiming and
// freeing a run spanning several bitmap words loops over the words). A leaked small block
// keeps its page a slab page of its class, reusable by that class.
//
// Per-instance magazines (magazine.ts) sit in front of allocSmall / freeSmall without changing
// any of this: a magazine holds blocks that are allocated as far as their pages know (their
// units are in `used`), so a page with a block in some magazine is never retired; the
// magazines live in a table of their instance's slot, so the reaper of a dead thread gives
// their blocks back to their pages, and freeBytes adds the magazines' blocks back. A failed
// allocation empties every magazine (`magRelieve`) and tries once more before it returns 0.
// (Descriptor bytes 24..31 stay free for per-page bookkeeping.)
//
// Tested by test/core/allocator.test.ts (4 threads allocating and freeing random sizes, each
// block's pattern checked before its free; threads terminated while allocating),
// test/core/reap-release.test.ts (threads terminated inside `release` and reaped: no block
// freed twice) and the fragmentation and churn-soak tests (accounting back at its start).
//
// Reference counts: a message block starts at 1 (its sender). Each queue that holds the
// handle owns one reference; `groupSend` adds one per member before enqueueing. `release`
// drops one and frees the block on the last.

import { MAG_CLASSES, magBase, magFreeBytes, magPop, magPush, magRelieve } from './magazine';
import {
  B_LEN, B_REFS, B_TIME, BLOCK_HDR, H_ARENA, H_CURRENT, H_DESC, H_FREEMAP, H_MAPWORDS, H_PAGES, H_PAGESWEEP,
  H_PARTIAL, SMALL_CLASSES, hdr,
} from './layout';

export const PAGE_SHIFT: u32 = 14;
export const PAGE_SIZE: u32 = 1 << PAGE_SHIFT;
/** Largest block (header included) served from a slab page. */
export const MAX_SMALL: u32 = PAGE_SIZE / 2;
/** Bytes of a page descriptor. */
export const DESC_SIZE: u32 = 32;

const ST_FREE: u64 = 0;
const ST_SLAB: u64 = 1;
const ST_RUN: u64 = 2;

const D_FREE: usize = 8;
const D_CARVED: usize = 16;
const D_RUN: usize = 20;

@inline function hUsed(h: u64): u32 {
  return <u32>(h & 0xffff);
}
@inline function hClass(h: u64): u32 {
  return <u32>((h >> 16) & 0xff);
}
@inline function hState(h: u64): u64 {
  return (h >> 24) & 3;
}
@inline function mkH(state: u64, cls: u32, used: u32, tagOf: u64): u64 {
  return (((tagOf >> 32) + 1) << 32) | (state << 24) | (<u64>cls << 16) | <u64>used;
}

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

/** Treiber pop from the tagged head at `head` (tag << 32 | address); 0 when empty. */
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

/** Treiber push of block `p` (its first word becomes the link) onto the tagged head at `head`. */
export function pushTagged(head: usize, p: u32): void {
  while (true) {
    const h = atomic.load<u64>(head);
    atomic.store<u32>(<usize>p, <u32>h);
    const nh = (((h >> 32) + 1) << 32) | <u64>p;
    if (atomic.cmpxchg<u64>(head, h, nh) == h) return;
  }
}

@inline function pageCount(): u32 {
  return load<u32>(hdr(H_PAGES));
}
@inline function mapWords(): u32 {
  return load<u32>(hdr(H_MAPWORDS));
}
@inline function descAddr(i: u32): usize {
  return <usize>load<u32>(hdr(H_DESC)) + <usize>i * <usize>DESC_SIZE;
}
@inline function pageAddr(i: u32): u32 {
  return load<u32>(hdr(H_ARENA)) + (i << PAGE_SHIFT);
}
@inline function freeMap(): usize {
  return <usize>load<u32>(hdr(H_FREEMAP));
}
@inline function partialMap(c: u32): usize {
  return <usize>load<u32>(hdr(H_PARTIAL)) + <usize>c * <usize>mapWords() * 8;
}
@inline function currentHint(c: u32): usize {
  return hdr(H_CURRENT) + <usize>c * 4;
}

/**
 * Lay out the page pool of a fresh region: `pages` pages from `arena`, descriptors at `desc`,
 * the pool bitmap at `freemap` and the per-class partial bitmaps at `partial` (all zeroed
 * here). Called once by `init`, before the memory is shared.
 */
export function initPages(arena: u32, pages: u32, desc: u32, freemap: u32, partial: u32): void {
  const words = (pages + 63) / 64;
  memory.fill(<usize>desc, 0, <usize>pages * <usize>DESC_SIZE);
  memory.fill(<usize>freemap, 0, <usize>words * 8);
  memory.fill(<usize>partial, 0, <usize>words * 8 * <usize>SMALL_CLASSES);
  for (let w: u32 = 0; w < words; w++) {
    const left = pages - w * 64;
    store<u64>(<usize>freemap + <usize>w * 8, left >= 64 ? <u64>-1 : ((<u64>1 << <u64>left) - 1));
  }
  store<u32>(hdr(H_ARENA), arena);
  store<u32>(hdr(H_PAGES), pages);
  store<u32>(hdr(H_MAPWORDS), words);
  store<u32>(hdr(H_DESC), desc);
  store<u32>(hdr(H_FREEMAP), freemap);
  store<u32>(hdr(H_PARTIAL), partial);
}

/** Bytes of metadata (descriptors and bitmaps) for `pages` pages. */
export function metaBytes(pages: u32): u32 {
  const words = (pages + 63) / 64;
  return pages * DESC_SIZE + words * 8 * (1 + SMALL_CLASSES);
}

// ---- the page pool ------------------------------------------------------------------------

/** Claim one free page, lowest first: its index, or -1 when the pool is empty. */
@inline function claimPage(): i32 {
  const map = freeMap();
  const words = mapWords();
  for (let wi: u32 = 0; wi < words; wi++) {
    const a = map + <usize>wi * 8;
    let w = atomic.load<u64>(a);
    while (w != 0) {
      const b = <u32>ctz<u64>(w);
      const seen = atomic.cmpxchg<u64>(a, w, w & ~(<u64>1 << <u64>b));
      if (seen == w) return <i32>(wi * 64 + b);
      w = seen;
    }
  }
  return -1;
}

/** Bits of word `wi` that belong to pages [s, s + n). */
@inline function runMask(wi: u32, s: u32, n: u32): u64 {
  const lo = s > wi * 64 ? s - wi * 64 : 0;
  const end = s + n;
  const hi = end < wi * 64 + 64 ? end - wi * 64 : 64;
  const width = hi - lo;
  const ones: u64 = width >= 64 ? <u64>-1 : ((<u64>1 << <u64>width) - 1);
  return ones << <u64>lo;
}

/** Give pages [s, s + n) back to the pool. */
function releasePages(s: u32, n: u32): void {
  const map = freeMap();
  const last = (s + n - 1) / 64;
  for (let wi = s / 64; wi <= last; wi++) atomic.or<u64>(map + <usize>wi * 8, runMask(wi, s, n));
}

/** Claim pages [s, s + n) if they are all free, word by word (rolled back on failure). */
function claimRun(s: u32, n: u32): bool {
  const map = freeMap();
  const first = s / 64;
  const last = (s + n - 1) / 64;
  for (let wi = first; wi <= last; wi++) {
    const a = map + <usize>wi * 8;
    const mask = runMask(wi, s, n);
    let w = atomic.load<u64>(a);
    while (true) {
      if ((w & mask) != mask) {
        // Not free any more: give back the words claimed so far.
        for (let back = first; back < wi; back++) atomic.or<u64>(map + <usize>back * 8, runMask(back, s, n));
        return false;
      }
      const seen = atomic.cmpxchg<u64>(a, w, w & ~mask);
      if (seen == w) break;
      w = seen;
    }
  }
  return true;
}

/** The highest start s of n free pages in a row (a snapshot), or -1. */
function findRun(n: u32): i32 {
  const map = freeMap();
  const pages = pageCount();
  let run: u32 = 0;
  let i: i32 = <i32>pages - 1;
  while (i >= 0) {
    const w = atomic.load<u64>(map + <usize>(i >> 6) * 8);
    if ((i & 63) == 63 && w == 0) {
      run = 0;
      i -= 64;
      continue;
    }
    if ((i & 63) == 63 && w == <u64>-1) {
      run += 64;
      i -= 64;
      if (run >= n) return i + 1 + <i32>(run - n);
      continue;
    }
    if (((w >> <u64>(i & 63)) & 1) != 0) {
      run++;
      if (run >= n) return i;
    } else {
      run = 0;
    }
    i--;
  }
  return -1;
}

/** A block of `n` whole pages (state RUN), or 0. */
function allocRun(n: u32): u32 {
  if (n == 0 || n > pageCount()) return 0;
  while (true) {
    const s = findRun(n);
    if (s < 0) return 0;
    if (!claimRun(<u32>s, n)) continue;
    const d = descAddr(<u32>s);
    store<u32>(d + D_RUN, n);
    atomic.store<u64>(d, mkH(ST_RUN, 0, 0, atomic.load<u64>(d)));
    return pageAddr(<u32>s);
  }
}

// ---- slab pages ---------------------------------------------------------------------------

/**
 * Reserve a block of class `c` in page `q` and take it; 0 when the page is not a slab of
 * class `c` or is full. `cap` and `size` are the class's blocks per page and block size.
 */
function takeFrom(q: u32, c: u32, cap: u32, size: u32): u32 {
  const d = descAddr(q);
  while (true) {
    const h = atomic.load<u64>(d);
    if (hState(h) != ST_SLAB || hClass(h) != c || hUsed(h) >= cap) return 0;
    if (atomic.cmpxchg<u64>(d, h, h + 1) == h) break;
  }
  // Reserved: the free list or the never-carved blocks hold one for us (see the invariants).
  while (true) {
    const f = atomic.load<u64>(d + D_FREE);
    const b = <u32>f;
    if (b != 0) {
      const next = atomic.load<u32>(<usize>b);
      if (atomic.cmpxchg<u64>(d + D_FREE, f, (((f >> 32) + 1) << 32) | <u64>next) == f) return b;
      continue;
    }
    const k = atomic.load<u32>(d + D_CARVED);
    if (k < cap && atomic.cmpxchg<u32>(d + D_CARVED, k, k + 1) == k) return pageAddr(q) + k * size;
  }
}

function allocSmall(c: u32): u32 {
  const size = classSize(c);
  const cap = PAGE_SIZE / size;
  const cur = currentHint(c);
  const hint = atomic.load<u32>(cur);
  if (hint != 0) {
    const b = takeFrom(hint - 1, c, cap, size);
    if (b != 0) return b;
  }
  // A page of this class that may have room.
  const pm = partialMap(c);
  const words = mapWords();
  for (let wi: u32 = 0; wi < words; wi++) {
    const a = pm + <usize>wi * 8;
    let w = atomic.load<u64>(a);
    while (w != 0) {
      const bit = <u32>ctz<u64>(w);
      w &= w - 1;
      const q = wi * 64 + bit;
      const b = takeFrom(q, c, cap, size);
      if (b != 0) {
        atomic.store<u32>(cur, q + 1);
        return b;
      }
      // Full, or not of this class any more: clear the hint bit, then re-check (see above).
      const m: u64 = <u64>1 << <u64>bit;
      atomic.and<u64>(a, ~m);
      const h = atomic.load<u64>(descAddr(q));
      if (hState(h) == ST_SLAB && hClass(h) == c && hUsed(h) < cap) atomic.or<u64>(a, m);
    }
  }
  // A fresh page: claimed and published with no call and no back-edge in between.
  const q = claimPage();
  if (q < 0) return 0;
  const d = descAddr(<u32>q);
  const f = atomic.load<u64>(d + D_FREE);
  atomic.store<u64>(d + D_FREE, ((f >> 32) + 1) << 32); // empty free list, new tag
  atomic.store<u32>(d + D_CARVED, 1); // block 0 is ours
  atomic.store<u64>(d, mkH(ST_SLAB, c, 1, atomic.load<u64>(d)));
  atomic.or<u64>(pm + <usize>(<u32>q >> 6) * 8, <u64>1 << <u64>(<u32>q & 63));
  atomic.store<u32>(cur, <u32>q + 1);
  return pageAddr(<u32>q);
}

/** Free small block `p` of slab page `q`, whose state word was `h0` (we hold a unit of it). */
function freeSmall(p: u32, q: u32, h0: u64): void {
  const d = descAddr(q);
  while (true) {
    const f = atomic.load<u64>(d + D_FREE);
    atomic.store<u32>(<usize>p, <u32>f);
    if (atomic.cmpxchg<u64>(d + D_FREE, f, (((f >> 32) + 1) << 32) | <u64>p) == f) break;
    // Not pushed: the link word is the refcount word again (0) before the back-edge, so a
    // thread killed here leaves a tracked block with refcount 0 that the reaper frees.
    atomic.store<u32>(<usize>p, 0);
  }
  untrack(p); // on the free list now: no reaper may free it again (straight after the push)
  const c = hClass(h0);
  const cap = PAGE_SIZE / classSize(c);
  const cur = currentHint(c);
  const pm = partialMap(c);
  const map = freeMap();
  while (true) {
    const h = atomic.load<u64>(d);
    const used = hUsed(h);
    const retire = used == 1 && atomic.load<u32>(cur) != q + 1;
    const nh = retire ? mkH(ST_FREE, 0, 0, h) : h - 1;
    if (atomic.cmpxchg<u64>(d, h, nh) == h) {
      // Straight after the CAS (no call, no back-edge): the page goes back to the pool, or
      // a page that was full is marked as having room.
      if (retire) atomic.or<u64>(map + <usize>(q >> 6) * 8, <u64>1 << <u64>(q & 63));
      else if (used == cap) atomic.or<u64>(pm + <usize>(q >> 6) * 8, <u64>1 << <u64>(q & 63));
      return;
    }
  }
}

// ---- in-hand tracking --------------------------------------------------------------------
//
// For threads that die. A message this instance allocated and has not yet queued
// (`sendSlot`), or took off a queue and is still copying out (`recvSlot`), is owned by nobody
// else: if the thread is terminated in between, only these words (in its slot of the instance
// table, leases.ts) say where the block is, so the reaper can free it. Each word is written in
// the same straight line (no call, no loop back-edge) as the step that made the message ours,
// and cleared in the same straight line as the step that gave it away: for a free, the step
// that puts the block back on its page (`freeBlock`), so a reaper never frees a block that is
// already on a free list (it would be handed out twice).
/** Address of this instance's "message being sent" word (0: untracked). */
export let sendSlot: usize = 0;
/** Address of this instance's "message being received" word (0: untracked). */
export let recvSlot: usize = 0;

/** Address of this instance's "reference being dropped by its decode cache" word (fanout.ts; 0: none). */
export let dropSlot: usize = 0;

/** Address of this instance's "block being given back by its magazines" word (magazine.ts; 0: none). */
export let handSlot: usize = 0;

/** Track the magazines' hand word at `addr` (0: stop). */
export function trackHand(addr: usize): void {
  handSlot = addr;
}

/** Track the decode cache's drop word at `addr` (0: stop). */
export function trackDrop(addr: usize): void {
  dropSlot = addr;
}

/** Track this instance's in-hand messages in the instance slot at `slot` (0: stop). */
export function trackInstance(slot: usize, sendOff: usize, recvOff: usize): void {
  sendSlot = slot == 0 ? 0 : slot + sendOff;
  recvSlot = slot == 0 ? 0 : slot + recvOff;
}

/** Message `h` left this instance's hands (queued, or released): forget it. */
@inline export function untrack(h: u32): void {
  if (sendSlot != 0 && atomic.load<u32>(sendSlot) == h) atomic.store<u32>(sendSlot, 0);
  if (recvSlot != 0 && atomic.load<u32>(recvSlot) == h) atomic.store<u32>(recvSlot, 0);
  if (dropSlot != 0 && atomic.load<u32>(dropSlot) == h) atomic.store<u32>(dropSlot, 0);
  if (handSlot != 0 && atomic.load<u32>(handSlot) == h) atomic.store<u32>(handSlot, 0);
}

// ---- blocks -------------------------------------------------------------------------------

/**
 * A block with room for `len` payload bytes, refcount 1; 0 when the arena has no room for it
 * (no slab page of its class with room and no free page, or no run of free pages that long).
 */
export function allocBlock(len: u32): u32 {
  if (len > 0x40000000) return 0;
  const size = len + <u32>BLOCK_HDR;
  let p: u32 = 0;
  if (size <= MAX_SMALL) {
    const c = classOf(size);
    if (magBase != 0 && c < MAG_CLASSES) p = magPop(c); // magazine.ts
    if (p == 0) p = allocSmall(c);
    if (p == 0 && magRelieve() != 0) p = allocSmall(c); // never fail with blocks in magazines
  } else {
    const n = (size + PAGE_SIZE - 1) >> PAGE_SHIFT;
    p = allocRun(n);
    if (p == 0 && magRelieve() != 0) p = allocRun(n);
  }
  if (p == 0) return 0;
  store<u32>(<usize>p, 1, B_REFS);
  store<u32>(<usize>p, len, B_LEN);
  store<f64>(<usize>p, 0, B_TIME);
  return p;
}

/**
 * Free block `p` (refcount already 0): back to its slab page, or its run back to the pool.
 * Forgets `p` as in hand (see `untrack`) in the same straight line as the step that gives it
 * back; a thread killed before that step leaves it tracked and untouched (refcount 0).
 */
export function freeBlock(p: u32): void {
  const q = (p - load<u32>(hdr(H_ARENA))) >> PAGE_SHIFT;
  const d = descAddr(q);
  const h = atomic.load<u64>(d);
  if (hState(h) == ST_RUN) {
    const n = load<u32>(d + D_RUN);
    atomic.store<u64>(d, mkH(ST_FREE, 0, 0, h));
    untrack(p); // no longer a run: a reaper must not free it again (a kill below leaks pages)
    releasePages(q, n);
    return;
  }
  const c = hClass(h);
  if (magBase != 0 && c < MAG_CLASSES && magPush(p, c)) return; // magazine.ts
  freeSmall(p, q, h);
}

/** Free small block `p` (refcount 0) straight to its slab page, never to a magazine. */
export function freeToPage(p: u32): void {
  const q = (p - load<u32>(hdr(H_ARENA))) >> PAGE_SHIFT;
  freeSmall(p, q, atomic.load<u64>(descAddr(q)));
}

/** Drop one reference to block `p`; the last one frees it. */
export function releaseBlock(p: u32): void {
  if (atomic.sub<i32>(<usize>p + B_REFS, 1) == 1) freeBlock(p);
}

/** Add `n` references to block `p` (the caller already holds one). */
export function retainBlock(p: u32, n: i32): void {
  atomic.add<i32>(<usize>p + B_REFS, n);
}

/**
 * Retire up to `n` slab pages that have no block out, from the shared page-sweep cursor
 * (`all`: every page, from page 0). Such pages exist because a class's current page is not
 * retired by its last free (see above), and after a race between a free and a hint change.
 * A page that is some class's current page loses that role first (the next allocation of the
 * class takes another page, which costs a few stores). Returns the pages given back.
 */
export function trimPages(n: u32, all: bool): u32 {
  const pages = pageCount();
  if (pages == 0) return 0;
  const count = all || n > pages ? pages : n;
  const start = all ? 0 : atomic.add<u32>(hdr(H_PAGESWEEP), count) % pages;
  const map = freeMap();
  let done: u32 = 0;
  for (let k: u32 = 0; k < count; k++) {
    const q = (start + k) % pages;
    const d = descAddr(q);
    const h = atomic.load<u64>(d);
    if (hState(h) != ST_SLAB || hUsed(h) != 0) continue;
    const cur = currentHint(hClass(h));
    if (atomic.load<u32>(cur) == q + 1) atomic.cmpxchg<u32>(cur, q + 1, 0);
    if (atomic.cmpxchg<u64>(d, h, mkH(ST_FREE, 0, 0, h)) == h) {
      atomic.or<u64>(map + <usize>(q >> 6) * 8, <u64>1 << <u64>(q & 63));
      done++;
    }
  }
  return done;
}

// ---- accounting ---------------------------------------------------------------------------

/** Pages in the pool. */
export function freePages(): u32 {
  const map = freeMap();
  const words = mapWords();
  let n: u32 = 0;
  for (let wi: u32 = 0; wi < words; wi++) n += <u32>popcnt<u64>(atomic.load<u64>(map + <usize>wi * 8));
  return n;
}

/** Free bytes (see the invariant above): exact when no allocation is in flight. */
export function freeBytes(): f64 {
  let free: f64 = <f64>freePages() * <f64>PAGE_SIZE;
  const pages = pageCount();
  for (let q: u32 = 0; q < pages; q++) {
    const h = atomic.load<u64>(descAddr(q));
    if (hState(h) == ST_SLAB) free += <f64>(PAGE_SIZE - hUsed(h) * classSize(hClass(h)));
  }
  return free + magFreeBytes(); // blocks in magazines are free (magazine.ts)
}

/** Pages in the longest run of free pages (a snapshot). */
export function longestFreeRun(): u32 {
  const map = freeMap();
  const pages = pageCount();
  let best: u32 = 0;
  let run: u32 = 0;
  for (let q: u32 = 0; q < pages; q++) {
    if (((atomic.load<u64>(map + <usize>(q >> 6) * 8) >> <u64>(q & 63)) & 1) != 0) {
      run++;
      if (run > best) best = run;
    } else {
      run = 0;
    }
  }
  return best;
}

/** Arena bytes: pages x PAGE_SIZE. */
export function totalBytes(): f64 {
  return <f64>pageCount() * <f64>PAGE_SIZE;
}
