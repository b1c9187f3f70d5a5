// Per-instance block magazines in front of the shared slab pages (arena.ts), with a shared
// depot of full magazines: Bonwick and Adams's magazine layer ("Magazines and Vmem", 2001),
// with a layer instance (an instance slot, leases.ts) in the role of their CPU.
//
// Why: a message is allocated on the producer's thread and freed on the consumer's. Without
// magazines each message costs two CASes on its page's descriptor on each side (reservation
// and free-list pop; free-list push and release of the unit), and that cache line crosses
// cores with every message. With them the producer pops blocks from its own magazine and the
// consumer pushes them on its own (a CAS on a word only its owner writes in the steady state,
// which stays in that core's cache); a consumer whose magazine is full moves cap blocks to the
// depot with ONE CAS, and a producer whose magazine is empty takes cap blocks from it with ONE
// CAS. Only classes of at most 1 KiB (MAG_CLASSES) have magazines.
//
// Structure:
//  - the first MAG_SLOTS instance slots (leases.ts) each have a magazine table of MAG_STRIDE
//    bytes (64-byte aligned, so two instances never share a cache line), in one region
//    allocated with the instance table (header H_MAGTAB) and never freed while the bus lives:
//    so another thread may always read and CAS a table's words, whoever owns it now (an
//    instance of a later slot, or of a bus whose arena had no room for them, has no
//    magazines and uses the pages directly). Per class c: a word (u64) BUSY (bit 63) | count
//    (bits 32..47) | head, and `mid` (u32). A magazine is a stack linked through the blocks'
//    first words (the refcount word of a live block: 0 for a freed one). It holds at most
//    2 x cap(c) blocks (cap = min(32, 4096 / class size)); `mid` is the block pushed as the
//    (cap + 1)-th, so the top cap blocks are head .. mid and mid's link is the rest. The
//    table ends with a drain word (u64: class << 48 | count << 32 | head): a list of blocks
//    of one class being given back to their pages one at a time, and a hand word (u32): the
//    block the drain gave up that its page does not have yet.
//  - the depot (header H_DEPOT): per class a tagged Treiber stack (tag << 32 | head) of
//    chains of exactly cap(c) blocks, linked through each chain's first block's second word
//    (B_LEN, unused in a free block), and a count of its chains (H_DEPOTN); at most DEPOT_MAX
//    chains per class, beyond that a full magazine's top half goes back to its pages.
//  - alloc: pop the own magazine (one CAS on the own word); empty: load a chain from the
//    depot (one CAS on the depot head, then a plain store of the own word, which is empty);
//    else the pages (arena.ts allocSmall). free: push on the own magazine; full (2 x cap):
//    flush its top cap blocks first (BUSY set by CAS, the chain pushed on the depot by CAS,
//    then the word set to the remaining cap blocks, a plain store while BUSY).
//  - stealing: anyone may take a whole magazine of another instance that is not BUSY and not
//    empty by CAS(word, w, 0) (no ABA: only its owner makes the word non-zero again, and the
//    owner's own CAS then fails and falls back to the pages); the stealer stores it in its own
//    drain word in the same straight line and gives the blocks back one at a time.
//  - a failed allocation (arena.ts allocBlock) and `reclaim()` run `magRelieve`: the own
//    magazines, every depot chain and every other instance's magazine go back to their pages,
//    and empty slab pages back to the pool, before the allocation is retried. So a block in a
//    magazine never causes OutOfSharedMemory.
//
// Invariants:
//  - a block in a magazine, a depot chain or a drain word is allocated as far as its page
//    knows (its unit is in `used`): its page is never retired while it is there, and it is in
//    exactly one of those places (every move is one CAS, or one store of a word that no one
//    else writes at that moment: the own empty word, a BUSY word, the own drain word);
//  - the count of a word or a chain says how many blocks its list holds (links past the
//    count are garbage and never followed);
//  - freeBytes (arena.ts) = the pages' figure + every block in a magazine, a depot chain or a
//    drain word (`magFreeBytes`): exact when no allocation is in flight.
//
// Termination safety (V8 stops a thread only at a function entry or a loop back-edge): a pop,
// a push, the switch to BUSY and a steal are one CAS each followed, in the same straight line,
// by the stores that complete them (the pushed block's untrack, the stolen list into the drain
// word); a depot push retries with the chain still in the BUSY word. So a thread killed at any
// instruction leaves every block in its magazine table (words, BUSY word, drain word) or the
// depot, or in hand and tracked: the block a drain word gives up is in the table's hand word
// (u32, after the drain word) until the page's free-list push, whose `untrack` clears it in the
// same straight line; a block popped for a message is in the caller's send word in the same
// straight line (index.ts `alloc`), as a block from a page always was (any other allocation's
// block in hand is its caller's, as before). So magazines add no leak at all. The reaper of a
// dead instance (`magRelease` from instanceFree) takes its words, BUSY or not, its drain word
// and its hand word, and gives the blocks back to their pages the same way, keeping the block
// in hand in that table's hand word (a reaper killed there leaves the table consistent, its
// slot still live). A slot reclaimed as stale (leases.ts) has its magazines emptied the same
// way: its instance, if it still runs, frees blocks only inside an operation, which starts with
// the live-word check that detaches it (`magDetach`) first. An instance without a magazine
// table steals nothing; its drain of a depot chain (in a failed allocation) can leak the rest
// of that chain if it is killed there.
//
// Tested by test/core/magazine-kill.test.ts (producers and consumers terminated mid-traffic,
// every message checked, the dead instances' magazines empty after their reaping, free bytes
// back at the start after reclaim) and by every allocator, churn and fragmentation test, which
// run with magazines.

import { allocBlock, classSize, freeToPage, handSlot, trackHand, trimPages, untrack } from './arena';
import { BLOCK_HDR, H_DEPOT, H_DEPOTN, H_MAGTAB, hdr } from './layout';

/** Size classes with magazines: 0 .. MAG_CLASSES - 1 (class sizes up to 1 KiB). */
export const MAG_CLASSES: u32 = 21;
/** Instance slots (the first ones) with magazines. */
export const MAG_SLOTS: u32 = 128;
/** Depot chains per class at most. */
const DEPOT_MAX: i32 = 16;
const BUSY: u64 = <u64>1 << 63;
const COUNT_UNIT: u64 = <u64>1 << 32;
const ENTRY: usize = 16;
const DRAIN: usize = <usize>MAG_CLASSES * ENTRY;
const HAND: usize = DRAIN + 8;
/** Bytes of a magazine table: the class entries and the drain word, rounded up to cache lines. */
const MAG_STRIDE: usize = (HAND + 4 + 63) & ~(<usize>63);

/** This wasm instance's magazine table (payload address; 0: no magazines). */
export let magBase: usize = 0;

@inline function countOf(w: u64): u32 {
  return <u32>((w >> 32) & 0xffff);
}
@inline function capOf(c: u32): u32 {
  const m = 4096 / classSize(c);
  return m > 32 ? 32 : m;
}
@inline function depotHead(c: u32): usize {
  return hdr(H_DEPOT) + <usize>c * 8;
}
@inline function depotCount(c: u32): usize {
  return hdr(H_DEPOTN) + <usize>c * 4;
}

/** Allocate the magazine tables of a fresh bus (`instances` slots); none when the arena has no room. */
export function magSetup(instances: u32): void {
  const slots = instances < MAG_SLOTS ? instances : MAG_SLOTS;
  const bytes = <usize>slots * MAG_STRIDE;
  const b = allocBlock(<u32>(bytes + 64)); // magBase is 0 here: never from a magazine
  if (b == 0) return;
  const base = (<usize>b + BLOCK_HDR + 63) & ~(<usize>63);
  memory.fill(base, 0, bytes);
  store<u32>(hdr(H_MAGTAB) + 4, slots);
  atomic.store<u32>(hdr(H_MAGTAB), <u32>base);
}

@inline function tableSlots(): u32 {
  return atomic.load<u32>(hdr(H_MAGTAB)) == 0 ? 0 : load<u32>(hdr(H_MAGTAB) + 4);
}
@inline function tableOf(id: u32): usize {
  return <usize>atomic.load<u32>(hdr(H_MAGTAB)) + <usize>(id - 1) * MAG_STRIDE;
}

/** Use the magazines of instance `id` (a fresh claim by this wasm instance), if it has any. */
export function magAttach(id: u32): void {
  magRelease(id); // empty already (its last owner's close or reaper emptied it): a check
  magBase = id >= 1 && id <= tableSlots() ? tableOf(id) : 0;
  trackHand(magBase == 0 ? 0 : magBase + HAND);
}

/** Stop using this wasm instance's magazines (its slot is being freed or was lost). */
export function magDetach(): void {
  magBase = 0;
  trackHand(0);
}

/** A block of class `c` from the own magazine (or a depot chain); 0: none (use the pages). */
export function magPop(c: u32): u32 {
  const a = magBase + <usize>c * ENTRY;
  let w = atomic.load<u64>(a);
  if (countOf(w) == 0) {
    if (!refill(c, a)) return 0;
    w = atomic.load<u64>(a);
  }
  const p = <u32>w;
  const n = countOf(w) - 1;
  const next: u64 = n == 0 ? 0 : <u64>atomic.load<u32>(<usize>p);
  // Fails only when the magazine was stolen meanwhile: then the pages serve this one.
  if (atomic.cmpxchg<u64>(a, w, (<u64>n << 32) | next) != w) return 0;
  return p;
}

/** Load a depot chain of class `c` into the own (empty) word at `a`. */
function refill(c: u32, a: usize): bool {
  const dh = depotHead(c);
  while (true) {
    const h = atomic.load<u64>(dh);
    const p = <u32>h;
    if (p == 0) return false;
    const next = atomic.load<u32>(<usize>p + 4); // a stale read fails the CAS (the tag moved)
    if (atomic.cmpxchg<u64>(dh, h, (((h >> 32) + 1) << 32) | <u64>next) == h) {
      // Straight line: the chain is ours; the own word is empty and only we fill it.
      atomic.store<u64>(a, (<u64>capOf(c) << 32) | <u64>p);
      atomic.sub<i32>(depotCount(c), 1);
      return true;
    }
  }
}

/**
 * Push freed block `p` (refcount 0, maybe tracked as in hand) of class `c` on the own
 * magazine; false when it could not (stolen meanwhile): the caller frees it to its page.
 */
export function magPush(p: u32, c: u32): bool {
  const a = magBase + <usize>c * ENTRY;
  const cap = capOf(c);
  let w = atomic.load<u64>(a);
  if (countOf(w) >= 2 * cap) {
    if (!flush(c, a, w, cap)) return false;
    w = atomic.load<u64>(a);
  }
  const n = countOf(w);
  atomic.store<u32>(<usize>p, <u32>w); // the link (garbage past the count when n is 0)
  if (atomic.cmpxchg<u64>(a, w, ((<u64>n + 1) << 32) | <u64>p) != w) {
    atomic.store<u32>(<usize>p, 0); // the refcount word again, before any kill point
    return false;
  }
  if (n == cap) atomic.store<u32>(a + 8, p); // mid: the (cap + 1)-th block
  untrack(p); // in the magazine now: no reaper may free it again (same straight line)
  return true;
}

/** Move the top `cap` blocks of the own full word at `a` (value `w`) to the depot, or to their pages. */
function flush(c: u32, a: usize, w: u64, cap: u32): bool {
  const top = <u32>w;
  const mid = atomic.load<u32>(a + 8);
  const rest: u64 = (<u64>cap << 32) | <u64>atomic.load<u32>(<usize>mid);
  if (atomic.cmpxchg<u64>(a, w, w | BUSY) != w) return false; // stolen meanwhile
  if (atomic.load<i32>(depotCount(c)) < DEPOT_MAX) {
    const dh = depotHead(c);
    while (true) {
      // Killed at the back-edge: the chain is still in the BUSY word (the reaper takes it).
      const h = atomic.load<u64>(dh);
      atomic.store<u32>(<usize>top + 4, <u32>h);
      if (atomic.cmpxchg<u64>(dh, h, (((h >> 32) + 1) << 32) | <u64>top) == h) {
        atomic.store<u64>(a, rest); // BUSY: no one else writes it
        atomic.add<i32>(depotCount(c), 1);
        return true;
      }
    }
  }
  // The depot is full: the chain goes back to its pages through the drain word.
  atomic.store<u64>(magBase + DRAIN, (<u64>c << 48) | (<u64>cap << 32) | <u64>top);
  atomic.store<u64>(a, rest);
  drainAt(magBase + DRAIN);
  return true;
}

/** Give the blocks of the drain word at `dw` back to their pages, one at a time. */
function drainAt(dw: usize): void {
  while (true) {
    const d = atomic.load<u64>(dw);
    const n = countOf(d);
    if (n == 0) break;
    const p = <u32>d;
    const next: u64 = n == 1 ? 0 : <u64>atomic.load<u32>(<usize>p);
    atomic.store<u64>(dw, (d & ~<u64>0xffffffffffff) | ((<u64>n - 1) << 32) | next);
    if (handSlot != 0) atomic.store<u32>(handSlot, p); // in hand: untrack forgets it once on its page
    atomic.store<u32>(<usize>p, 0); // its refcount word
    freeToPage(p);
  }
  atomic.store<u64>(dw, 0);
}

/** Move the list of word `w` (at `a`, class `c`) into the drain word at `dw` by CAS; true when taken. */
@inline function take(a: usize, w: u64, c: u32, dw: usize): bool {
  if (atomic.cmpxchg<u64>(a, w, 0) != w) return false;
  atomic.store<u64>(dw, (<u64>c << 48) | (w & ~BUSY & ~(<u64>0xffff << 48)));
  return true;
}

/**
 * Give every block of the magazine table at `base` (payload address) back to its pages,
 * BUSY words too when `busyToo` (its owner is gone, or is us), through the drain word at `dw`.
 * Returns the blocks given back.
 */
function emptyTable(base: usize, dw: usize, busyToo: bool): u32 {
  let n: u32 = 0;
  for (let c: u32 = 0; c < MAG_CLASSES; c++) {
    const a = base + <usize>c * ENTRY;
    const w = atomic.load<u64>(a);
    if (countOf(w) == 0 || (!busyToo && (w & BUSY) != 0)) continue;
    if (take(a, w, c, dw)) {
      n += countOf(w);
      drainAt(dw);
    }
  }
  return n;
}

/**
 * Empty the magazines of instance `id` (close, the reaper of a dead thread, a stale slot):
 * every block back to its page. The table stays for the slot's next owner.
 */
export function magRelease(id: u32): void {
  if (id < 1 || id > tableSlots()) return;
  const base = tableOf(id);
  if (base == magBase) magDetach(); // our own: no free may go back into it from here
  // The drains below keep the block in hand in THIS table's hand word, so a thread killed
  // here leaves the table consistent for whoever empties it next.
  const saved = handSlot;
  trackHand(base + HAND);
  const h = atomic.load<u32>(base + HAND); // a block it died giving back (refcount 0, not on its page)
  if (h != 0) freeToPage(h); // untrack clears the hand word in the push's straight line
  drainAt(base + DRAIN); // what it was giving back when it died
  emptyTable(base, base + DRAIN, true);
  trackHand(saved);
}

/**
 * Everything the magazines hold back to the pages: the own magazines, every depot chain and
 * every other instance's magazines (stolen, see above), then empty slab pages to the pool.
 * Returns the blocks given back (0: nothing was there).
 */
export function magRelieve(): u32 {
  let n: u32 = 0;
  const own = magBase;
  if (own != 0) n += emptyTable(own, own + DRAIN, true);
  for (let c: u32 = 0; c < MAG_CLASSES; c++) {
    const dh = depotHead(c);
    const cap = capOf(c);
    while (true) {
      const h = atomic.load<u64>(dh);
      const p = <u32>h;
      if (p == 0) break;
      const next = atomic.load<u32>(<usize>p + 4);
      if (atomic.cmpxchg<u64>(dh, h, (((h >> 32) + 1) << 32) | <u64>next) != h) continue;
      atomic.sub<i32>(depotCount(c), 1);
      n += cap;
      if (own != 0) {
        atomic.store<u64>(own + DRAIN, (<u64>c << 48) | (<u64>cap << 32) | <u64>p);
        drainAt(own + DRAIN);
      } else {
        let q = p;
        for (let k: u32 = 0; k < cap; k++) {
          const nq = atomic.load<u32>(<usize>q);
          atomic.store<u32>(<usize>q, 0);
          freeToPage(q);
          q = nq;
        }
      }
    }
  }
  if (own != 0) {
    const slots = tableSlots();
    for (let id: u32 = 1; id <= slots; id++) {
      const t = tableOf(id);
      if (t != own) n += emptyTable(t, own + DRAIN, false);
    }
  }
  if (n > 0) trimPages(0, true);
  return n;
}

/** Bytes of the blocks held in magazines, depot chains and drain words (free, for freeBytes). */
export function magFreeBytes(): f64 {
  let free: f64 = 0;
  for (let c: u32 = 0; c < MAG_CLASSES; c++) {
    const k = atomic.load<i32>(depotCount(c));
    if (k > 0) free += <f64>k * <f64>capOf(c) * <f64>classSize(c);
  }
  const slots = tableSlots();
  for (let id: u32 = 1; id <= slots; id++) {
    const base = tableOf(id);
    for (let c: u32 = 0; c < MAG_CLASSES; c++) {
      free += <f64>countOf(atomic.load<u64>(base + <usize>c * ENTRY)) * <f64>classSize(c);
    }
    const d = atomic.load<u64>(base + DRAIN);
    if (countOf(d) > 0) free += <f64>countOf(d) * <f64>classSize(<u32>(d >> 48));
  }
  return free;
}

/** Blocks in the magazines (words, drain word, hand word) of instance `id` (tests: a reaped instance has none). */
export function magHeld(id: u32): u32 {
  if (id < 1 || id > tableSlots()) return 0;
  const base = tableOf(id);
  let n: u32 = 0;
  for (let c: u32 = 0; c < MAG_CLASSES; c++) n += countOf(atomic.load<u64>(base + <usize>c * ENTRY));
  n += countOf(atomic.load<u64>(base + DRAIN));
  if (atomic.load<u32>(base + HAND) != 0) n++;
  return n;
}

/** Blocks in the depot (all classes; stats and tests). */
export function depotBlocks(): u32 {
  let n: u32 = 0;
  for (let c: u32 = 0; c < MAG_CLASSES; c++) {
    const k = atomic.load<i32>(depotCount(c));
    if (k > 0) n += <u32>k * capOf(c);
  }
  return n;
}
