// The shared-memory core of ringbus: the functions the JS layer (src/layers/shared.ts) calls.
// Compiled with --importMemory --sharedMemory --enable threads and the stub runtime: nothing
// here allocates on the AssemblyScript heap; every structure lives in the shared region
// described in layout.ts. Each file opens with its algorithm and invariants:
//   layout.ts    memory map, header, record and block formats
//   arena.ts     lock-free page allocator (bitmap) with size-class slab pages, refcounts
//   epoch.ts     grace periods before a reclaimed record's memory is reused (QSBR)
//   queue.ts     Vyukov bounded MPMC queue per channel, wake words, pin/unpin
//   registry.ts  name -> record table (per-bucket optimistic seqlock), record reclamation
//   groups.ts    copy-on-write member arrays, group delivery
//   leases.ts    lease table and instance table (at-least-once delivery, dead threads)
//   holds.ts     instance-held pins on hot channels (no pin/unpin per operation)
//   fanout.ts    decode once per thread for fan-out: the references a decode cache holds
//   lifetime.ts  the bus options block and the shutdown of the bus
//
// Per-instance secondary results (the generation of a lookup, the number of expired
// messages dropped by a receive, ...) travel in wasm globals, which are private to the
// calling thread's instance, and are read back through the getter functions below.

import {
  PAGE_SIZE, allocBlock, freeBytes, freePages as poolPages, initPages, longestFreeRun, metaBytes, releaseBlock,
  totalBytes, trimPages as trim,
} from './arena';
import { I_EPOCH, drainLimbo, graceAdvance as advance, limboCount, untracked } from './epoch';
import {
  B_TIME, H_BUCKETS, H_END, H_EPOCH, H_HOLDREQ, H_MAGIC, H_MAXMSG, H_NAMES, H_REG, H_SIZE, H_VERSION,
  NAME_SLOT_DATA, NAME_SLOT_SIZE, NAME_SLOTS,
  HEADER_BASE, HEADER_SIZE, KIND_CHANNEL, KIND_GROUP, LAYOUT_VERSION, MAGIC, R_CTL, R_KIND, R_NAME,
  R_NLEN, hdr,
} from './layout';
import { EPOCH_UNIT, depthOf, dropExpiredHead, expiredCount, pin, popLive, popRaw, push, releaseOwned, ringPop, unpin } from './queue';
import { sendSlot, untrack } from './arena';
import * as queue from './queue';
import { arm, wakeReceivers } from './wake';
import * as wake from './wake';
import { lookup as registryLookup, lookupCreated, lookupGen, lookupStatus, pinSlot, setLookupTrackWord, recordsInUse as recUsed, slotCount, sweep as registrySweep } from './registry';
import { HOLD_ENTRIES, dropHold, holdPin, holdsOf } from './holds';
import { instanceSlot } from './leases';
import { CACHE_ENTRIES, cacheKeep, cacheDrop, cacheTable } from './fanout';
import { MAG_SLOTS, depotBlocks, magFreeBytes, magHeld, magRelieve } from './magazine';
import { clearMembers, groupDropped, groupSend as deliver, memberCount, rewriteMembers } from './groups';

export { OFF_WAKE, OFF_PARKED, OFF_SPACE, OFF_SPARKED } from './registry';
export { busClosed, busOptionsAddr, busOptionsLen, closedWord, recordsWord, setBusOptions, shutdown } from './lifetime';

/** Layout version this build reads and writes. */
export function layoutVersion(): u32 {
  return LAYOUT_VERSION;
}

/** Lowest address free of this module's static data (must be <= the header address). */
export function heapBase(): u32 {
  return <u32>__heap_base;
}

/** Address of the layout header. */
export function headerBase(): u32 {
  return <u32>HEADER_BASE;
}

/**
 * Lay out a fresh region of `size` bytes with `buckets` registry buckets (a power of two,
 * >= 2) and the given message size limit. Called once, by the creating thread, before the
 * memory is shared. Returns 0, or 1 when the static data overlaps the header, 2 when the
 * region is too small.
 */
export function init(size: u32, buckets: u32, maxMessageSize: u32): i32 {
  if (<usize>__heap_base > HEADER_BASE) return 1;
  const names = HEADER_BASE + HEADER_SIZE;
  const reg = names + <usize>NAME_SLOTS * <usize>NAME_SLOT_SIZE;
  // The page allocator's metadata (descriptors, bitmaps), then the pages, PAGE_SIZE-aligned.
  const meta = (reg + <usize>buckets * 32 + 63) & ~(<usize>63);
  if (<u64>meta + 4 * <u64>PAGE_SIZE > <u64>size) return 2;
  let pages = <u32>((<u64>size - <u64>meta) / <u64>(PAGE_SIZE + 40));
  let arena: usize = 0;
  while (pages > 0) {
    arena = (meta + <usize>metaBytes(pages) + <usize>PAGE_SIZE - 1) & ~(<usize>PAGE_SIZE - 1);
    if (<u64>arena + <u64>pages * <u64>PAGE_SIZE <= <u64>size) break;
    pages--;
  }
  if (pages < 4) return 2;
  memory.fill(HEADER_BASE, 0, HEADER_SIZE);
  memory.fill(names, 0, <usize>NAME_SLOTS * <usize>NAME_SLOT_SIZE);
  memory.fill(reg, 0, <usize>buckets * 32);
  store<u32>(hdr(H_NAMES), <u32>names);
  store<u32>(hdr(H_SIZE), size);
  store<u32>(hdr(H_REG), <u32>reg);
  store<u32>(hdr(H_BUCKETS), buckets);
  const words = (pages + 63) / 64;
  const desc = <u32>meta;
  const freemap = desc + pages * 32;
  initPages(<u32>arena, pages, desc, freemap, freemap + words * 8);
  store<u32>(hdr(H_END), <u32>arena + pages * PAGE_SIZE);
  store<u32>(hdr(H_MAXMSG), maxMessageSize);
  store<u32>(hdr(H_VERSION), LAYOUT_VERSION);
  atomic.store<u32>(hdr(H_MAGIC), MAGIC);
  return 0;
}

/**
 * Check that the region was laid out by a compatible build: 0 ok, 1 static data overlaps
 * the header, 2 no ringbus magic, 3 other layout version (see `headerVersion`).
 */
export function check(): i32 {
  if (<usize>__heap_base > HEADER_BASE) return 1;
  if (atomic.load<u32>(hdr(H_MAGIC)) != MAGIC) return 2;
  if (load<u32>(hdr(H_VERSION)) != LAYOUT_VERSION) return 3;
  return 0;
}

/** Address of the first name slot (see layout.ts); JS claims slots with Atomics.compareExchange. */
export function nameSlots(): u32 {
  return load<u32>(hdr(H_NAMES));
}
/** Number of name slots. */
export function nameSlotCount(): u32 {
  return NAME_SLOTS;
}
/** Bytes per name slot. */
export function nameSlotSize(): u32 {
  return NAME_SLOT_SIZE;
}
/** Offset of the name bytes in a slot. */
export function nameSlotData(): u32 {
  return NAME_SLOT_DATA;
}

/** Layout version found in the header (for the mismatch error). */
export function headerVersion(): u32 {
  return load<u32>(hdr(H_VERSION));
}
/** Size of the region, from the header. */
export function regionSize(): u32 {
  return load<u32>(hdr(H_SIZE));
}
/** maxMessageSize, from the header. */
export function maxMessageSize(): u32 {
  return load<u32>(hdr(H_MAXMSG));
}
/** Registry buckets, from the header. */
export function registryBuckets(): u32 {
  return load<u32>(hdr(H_BUCKETS));
}

// ---- messages --------------------------------------------------------------------------

/** A message block for `len` payload bytes, sent at `time` (ms); 0 when the arena is full. */
export function alloc(len: u32, time: f64): u32 {
  const p = allocBlock(len);
  if (p != 0) {
    store<f64>(<usize>p, time, B_TIME);
    if (sendSlot != 0) atomic.store<u32>(sendSlot, p); // in this instance's hands until queued
  }
  return p;
}

/** Drop one reference to block `h` (and forget it as in-hand, see arena.ts `untrack`). */
export function release(h: u32): void {
  releaseOwned(h);
}

/** Generic block (scratch areas of the JS side). */
export function allocScratch(len: u32): u32 {
  return allocBlock(len);
}

// ---- registry --------------------------------------------------------------------------

/** See registry.ts `lookup`; kind 1 channel, 2 group. Returns the record PINNED, or 0. */
/** `word`: a wait word of the caller's instance slot to record the returned pin in (0: none). */
export function lookup(kind: u32, name: u32, len: u32, create: i32, cap: u32, full: u32, word: u32): u32 {
  setLookupTrackWord(word);
  const r = registryLookup(kind, <usize>name, len, create != 0, cap, full);
  setLookupTrackWord(0);
  return r;
}
export function lastGen(): u32 {
  return lookupGen;
}
export function lastStatus(): i32 {
  return lookupStatus;
}
export function lastCreated(): i32 {
  return lookupCreated;
}

export function pinRecord(r: u32, gen: u32): i32 {
  return pin(r, gen) ? 1 : 0;
}
export function unpinRecord(r: u32): void {
  unpin(r);
}

// Pins and parked counts of waits, recorded in the instance's wait words (leases.ts) in the
// same straight line as the pin / increment they stand for (set after, cleared before, no
// call or loop in between), so the reaper of a thread that died waiting undoes exactly them.

/** Pin (r, gen) and record it in wait word `word` (if free). 1 pinned, 0 stale. */
export function pinTracked(r: u32, gen: u32, word: u32): i32 {
  if (!pin(r, gen)) return 0;
  if (word != 0) atomic.cmpxchg<u32>(<usize>word, 0, r);
  return 1;
}

/** Forget `r` in wait word `word` (if it is there), then unpin it. */
export function unpinTracked(r: u32, word: u32): void {
  if (word != 0) atomic.cmpxchg<u32>(<usize>word, r, 0);
  atomic.add<u64>(<usize>r + R_CTL, EPOCH_UNIT - 1); // unpin (queue.ts), inlined: no call after the clear
}

/** Count a waiter in parked counter `count` and record it in wait word `word` (if free). */
export function parkEnter(count: u32, word: u32): void {
  atomic.add<i32>(<usize>count, 1);
  if (word != 0) atomic.cmpxchg<u32>(<usize>word, 0, count);
  arm(<usize>count); // one notify owed to this park (wake.ts)
}

/** Forget parked counter `count` in wait word `word` (if it is there), then uncount the waiter. */
export function parkLeave(count: u32, word: u32): void {
  if (word != 0) atomic.cmpxchg<u32>(<usize>word, count, 0);
  atomic.sub<i32>(<usize>count, 1);
}

/**
 * Among the next `n` registry slots, drop group members added at or before `groupCutoff`
 * and messages sent at or before `messageCutoff`, and reclaim unused records; returns how
 * many records were reclaimed.
 */
export function sweep(n: u32, groupCutoff: f64, messageCutoff: f64): u32 {
  return registrySweep(n, groupCutoff, messageCutoff);
}

// ---- channels --------------------------------------------------------------------------

/** Enqueue `h` on channel (r, gen): 1 queued, 0 full, -1 stale record (look it up again). */
export function send(r: u32, gen: u32, h: u32): i32 {
  if (!pin(r, gen)) return -1;
  const ok = push(r, h);
  if (ok) {
    untrack(h); // queued: the channel owns it now (straight after the publishing store)
    wakeReceivers(r); // only now: a kill in here must not leave a queued message in hand
  }
  unpin(r);
  return ok ? 1 : 0;
}

/** Enqueue `h` on pinned channel `r`: 1 or 0 (full). */
export function pushPinned(r: u32, h: u32): i32 {
  if (!push(r, h)) return 0;
  untrack(h); // straight after the publishing store, before the wake (see send)
  wakeReceivers(r);
  return 1;
}

/**
 * Take the oldest live message of channel (r, gen): its handle (the caller owns the
 * reference), 0 when empty, 1 when the record is stale. Expired ones are dropped (count in
 * `lastExpired`).
 */
export function recv(r: u32, gen: u32, cutoff: f64): u32 {
  queue.expiredCount = 0;
  if (!pin(r, gen)) return 1;
  const h = popLive(r, cutoff);
  unpin(r);
  return h;
}

/** As `recv` on a pinned channel. */
export function popPinned(r: u32, cutoff: f64): u32 {
  queue.expiredCount = 0;
  return popLive(r, cutoff);
}

/** Messages in the ring of pinned channel `r` (what counts against its capacity; redelivered ones do not). */
export function ringFill(r: u32): u32 {
  return queue.ringDepth(r);
}

/** Drop the oldest message of pinned channel `r` (full policy drop-oldest): 1 if one was dropped. */
export function dropOldest(r: u32): i32 {
  const h = ringPop(r, 0); // the ring's oldest (drop-oldest is refused on LIFO channels)
  if (h == 0) return 0;
  releaseBlock(h);
  return 1;
}

/** Drop expired messages at the head of pinned channel `r`; returns how many. */
export function dropExpired(r: u32, cutoff: f64): i32 {
  queue.expiredCount = 0;
  dropExpiredHead(r, cutoff);
  return expiredCount;
}

export function lastExpired(): i32 {
  return expiredCount;
}

/** Notifies this instance issued to parked waiters since it started (wake.ts). */
export function notifiesSoFar(): f64 {
  return wake.notifyCount;
}

/** Messages this instance dropped as expired since it started. */
export function expiredSoFar(): f64 {
  return queue.expiredEver;
}

/** Messages queued on pinned channel `r`. */
export function depth(r: u32): u32 {
  return depthOf(r);
}

/** Payload length of block `h`. */
export function blockLength(h: u32): u32 {
  return load<u32>(<usize>h, 4);
}

// ---- groups ----------------------------------------------------------------------------

/** Add pinned channel `c` to pinned group `g` at `now`; 1 ok, 0 arena full. */
export function groupAdd(g: u32, c: u32, now: f64, cutoff: f64): i32 {
  return rewriteMembers(g, c, 0, now, cutoff);
}

/** Remove pinned channel `c` from pinned group `g`; 1 ok, 0 arena full. */
export function groupDiscard(g: u32, c: u32, cutoff: f64): i32 {
  return rewriteMembers(g, 0, c, 0, cutoff);
}

/** See groups.ts `groupSend`. */
export function groupSend(g: u32, h: u32, cutoff: f64, scratch: u32, scratchCap: u32): i32 {
  return deliver(g, h, cutoff, <usize>scratch, scratchCap);
}
export function lastDropped(): i32 {
  return groupDropped;
}
export function groupSize(g: u32): u32 {
  return memberCount(g);
}

// ---- whole bus -------------------------------------------------------------------------

/** Number of registry slots (for iteration). */
export function slots(): u32 {
  return slotCount();
}

/** Pin the live record in slot `i` (0 if none); generation in `lastGen`. */
export function pinAt(i: u32): u32 {
  return pinSlot(i);
}

/** Kind of record `r`: 1 channel, 2 group. */
export function kindOf(r: u32): u32 {
  return load<u32>(<usize>r, R_KIND);
}

let foundDepth: u32 = 0;
let foundNameLen: u32 = 0;
let expiredTotal: i32 = 0;

/**
 * Find the next channel at or after slot `from` with messages (expired ones at the head are
 * dropped first, counted in `lastExpiredTotal`); copy its name to `out` and return its slot,
 * or -1. Its depth is in `lastDepth`, its name length in `lastNameLength`.
 */
export function nextDepth(from: u32, cutoff: f64, out: u32): i32 {
  const total = slotCount();
  expiredTotal = 0;
  for (let i = from; i < total; i++) {
    const r = pinSlot(i);
    if (r == 0) continue;
    if (load<u32>(<usize>r, R_KIND) != KIND_CHANNEL) {
      unpin(r);
      continue;
    }
    queue.expiredCount = 0;
    dropExpiredHead(r, cutoff);
    expiredTotal += expiredCount;
    const d = depthOf(r);
    if (d > 0) {
      foundDepth = d;
      foundNameLen = load<u32>(<usize>r, R_NLEN);
      memory.copy(<usize>out, <usize>r + R_NAME, foundNameLen);
      unpin(r);
      return <i32>i;
    }
    unpin(r);
  }
  return -1;
}
export function lastDepth(): u32 {
  return foundDepth;
}
export function lastNameLength(): u32 {
  return foundNameLen;
}
export function lastExpiredTotal(): i32 {
  return expiredTotal;
}

/** Empty every channel and every group of the bus. */
export function flushAll(): void {
  const total = slotCount();
  for (let i: u32 = 0; i < total; i++) {
    const r = pinSlot(i);
    if (r == 0) continue;
    const kind = load<u32>(<usize>r, R_KIND);
    if (kind == KIND_CHANNEL) {
      while (true) {
        const h = popRaw(r);
        if (h == 0) break;
        releaseBlock(h);
      }
    } else if (kind == KIND_GROUP) {
      clearMembers(r);
    }
    unpin(r);
  }
}

// ---- accounting (tests and stats) --------------------------------------------------------

/** Free arena bytes: bytes not held by an allocated block (exact when nothing is in flight). */
export function arenaFree(): f64 {
  return freeBytes();
}
/** Arena size in bytes. */
export function arenaTotal(): f64 {
  return totalBytes();
}
/** Bytes of the pages out of the page pool (slab pages and runs). */
export function arenaCarved(): f64 {
  return totalBytes() - <f64>poolPages() * <f64>PAGE_SIZE;
}
/** Bytes of one arena page. */
export function pageSize(): u32 {
  return PAGE_SIZE;
}
/** Pages in the page pool. */
export function freePages(): u32 {
  return poolPages();
}
/** Pages of the longest run of free pages (a block of up to that many pages minus 16 bytes fits). */
export function longestRun(): u32 {
  return longestFreeRun();
}
/** Retire up to `n` empty slab pages from the shared cursor (`all`: every page); returns how many. */
export function trimPages(n: u32, all: i32): u32 {
  return trim(n, all != 0);
}
/** Give every block held in magazines (own, depot, other instances') back to its page; returns how many. */
export function magazinesFlush(): u32 {
  return magRelieve();
}
/** Bytes of the free blocks held in magazines (part of `arenaFree`). */
export function magazineBytes(): f64 {
  return magFreeBytes();
}
/** Blocks held in the magazines of instance `id`. */
export function magazineHeld(id: u32): u32 {
  return magHeld(id);
}
/** Instance slots that have magazines (the first ones). */
export function magazineSlots(): u32 {
  return MAG_SLOTS;
}
/** Blocks in the shared depot of full magazines. */
export function magazineDepot(): u32 {
  return depotBlocks();
}
/** Records (channels + groups) in use. */
export function recordsInUse(): i32 {
  return recUsed();
}
/** Reclaimed records waiting for their grace period (reused for new records meanwhile). */
export function recordsPooled(): i32 {
  return limboCount();
}

// ---- grace periods of reclaimed records (epoch.ts) ---------------------------------------------

/** Address of the reclamation epoch word (JS reads it with Atomics.load). */
export function epochWord(): u32 {
  return <u32>hdr(H_EPOCH);
}
/** Offset of the announcement word in an instance slot. */
export function announceOffset(): u32 {
  return <u32>I_EPOCH;
}
/** 1 when record `r` is alive and of generation `gen` (a read only: `r` must still be a record). */
export function recordLive(r: u32, gen: u32): i32 {
  const c = atomic.load<u64>(<usize>r + R_CTL);
  return (c & queue.DEAD) == 0 && queue.genOf(c) == gen ? 1 : 0;
}
/** Advance the reclamation epoch if every instance announced it: 1 when it did. */
export function graceAdvance(): i32 {
  return advance() ? 1 : 0;
}
/** Free up to `max` records whose grace period is over; returns how many. */
export function graceDrain(max: u32): u32 {
  return drainLimbo(max);
}
/** An instance without an instance slot started (+1) or closed (-1): it holds grace periods back. */
export function untrackedInstance(delta: i32): void {
  untracked(delta);
}
/** Live records in the registry (a scan). */
export function registryCount(): u32 {
  const total = slotCount();
  let n: u32 = 0;
  for (let i: u32 = 0; i < total; i++) {
    const r = pinSlot(i);
    if (r != 0) {
      n++;
      unpin(r);
    }
  }
  return n;
}

// ---- instance-held pins (holds.ts) -------------------------------------------------------

/** Address of the first entry of instance `id`'s hold table (0: none). */
export function holdTable(id: u32): u32 {
  const slot = instanceSlot(id);
  return slot == 0 ? 0 : holdsOf(<usize>slot);
}
/** Address of the bus's hold-release request word (JS bumps and reads it with Atomics). */
export function holdRequestWord(): u32 {
  return <u32>hdr(H_HOLDREQ);
}
/** Entries of a hold table. */
export function holdEntries(): u32 {
  return HOLD_ENTRIES;
}
/** Pin (r, gen) and record it in hold entry `entry`: 1 held, 0 stale record. */
export function holdRecord(r: u32, gen: u32, entry: u32): i32 {
  return holdPin(r, gen, <usize>entry);
}
/** Drop the pin recorded in hold entry `entry`. */
export function releaseHold(entry: u32): void {
  dropHold(<usize>entry);
}

// ---- decode once per thread for fan-out (fanout.ts) ---------------------------------------

/** Address of the first entry of instance `id`'s decode-cache table, made if needed (0: none). */
export function decodeCacheTable(id: u32): u32 {
  const slot = instanceSlot(id);
  return slot == 0 ? 0 : cacheTable(<usize>slot);
}
/** Entries of a decode-cache table. */
export function decodeCacheEntries(): u32 {
  return CACHE_ENTRIES;
}
/** The decode cache keeps this instance's reference to just-received block `h` in `entry`. */
export function decodeCacheKeep(entry: u32, h: u32): void {
  cacheKeep(<usize>entry, h);
}
/** Give back the reference recorded in decode-cache entry `entry`. */
export function decodeCacheDrop(entry: u32): void {
  cacheDrop(<usize>entry);
}
/** References on block `h` (a read). */
export function blockRefs(h: u32): i32 {
  return atomic.load<i32>(<usize>h);
}

// ---- trade-offs: LIFO stacks, leases, instances (stack.ts, leases.ts) ----------------------

export {
  setupTables, instanceClaim, instanceSlot, instanceOfThread, instancesLive, instanceFree, leaseTake,
  lastLeaseSeq, lastLeaseHandle, lastLeaseDeliveries, leaseAck, leaseNack, leaseSweep, leaseFlush,
  leasesHeld, instanceToken, instanceDetach, instanceSweepStale,
} from './leases';
