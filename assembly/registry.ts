// The name registry: channel and group names -> records, shared by every thread.
//
// Table: `buckets` (a power of two) buckets of 32 bytes: a version word and 7 slots holding
// record addresses (0 = free). A name lives in one of two buckets (two-choice hashing), so a
// lookup reads at most 14 slots and the table works up to a high load.
//
// Algorithm: optimistic per-bucket seqlock. Readers never lock: they scan the slots and pin
// the matching record (a pinned record cannot be reclaimed, so its name is stable while they
// compare it). A writer (insert or unlink) reads the versions of its buckets, scans, then
// takes them by CAS version v -> v+1 (odd = being written) ONLY IF they are unchanged since
// its scan: so an insert knows the name is still absent. The write itself is one or two
// stores, then the versions go to v+2. The record is built privately before and published by
// one store, so no reader ever sees a half-written record. Between taking a bucket and
// releasing it there is no call and no loop: a terminated thread can never leave a bucket
// taken (V8 stops threads only at function entries and loop back-edges). A thread terminated
// between building its record and publishing it (the rescan loops back) leaks that record and
// its ring: they are in no slot and no limbo list.
//
// Record life cycle and reclamation. A record is a 512-byte arena block (128-byte aligned, layout.ts). A stale record
// address (a cached name, a slot read a moment ago) must keep pointing at a record for as long
// as somebody may still use it: a reclaimed record goes to a limbo list and its block goes
// back to the arena only after a grace period (epoch.ts: every live instance has announced a
// later reclamation epoch); until then it can be reused at once, as a record only. Each record
// has a 64-bit ctl word:  bits 0..19 pins | bit 20 DEAD | bits 21..43 generation | bits 44..63 epoch.
//  - pin(r, gen): CAS +1 if alive and still that generation (the JS side caches
//    name -> (record, generation) and re-validates with this pin);
//  - unpin: one atomic add of (epoch unit - 1): pins - 1 and epoch + 1;
//  - reclaim (sweep): read ctl c with no pins, check the record is unused (channel: empty
//    queue, no group membership; group: no members), then CAS c -> c | DEAD. Any pin/unpin
//    since c was read changed the epoch, so a successful CAS proves nobody touched the record
//    in between and the checks still hold. Then unlink it from its slot, free its ring (a
//    ring is only reached through a pinned record, so it goes back to the arena at once) and
//    retire the record (epoch.ts); a next life as a record gets generation + 1, so stale
//    pins fail. Rings and records thus come back to the one arena, nothing stays pooled for good.
// A record is born DEAD (pinned once by its creator) and becomes alive only in the
// bucket-taken window where it is published, so nobody can pin a record that is not in the
// registry, and discarding an unpublished record (another thread inserted the name first) is
// safe. The sweep also drops expired group members and expired messages, which lets the
// channels of clients that went away be reclaimed.
// A DEAD record still in a slot is skipped by lookups (a new record for the same name may
// be inserted next to it); only its reclaimer unlinks and frees it.

import { allocBlock, releaseBlock } from './arena';
import { retireRecord, reuseRecord } from './epoch';
import {
  BLOCK_HDR, H_BUCKETS, H_RECFREE, H_RECTOTAL, H_REG, H_SWEEP, KIND_CHANNEL,
  KIND_GROUP, MAX_NAME, RECORD_SIZE, R_CAP, R_CTL, R_ENQ, R_DEQ, R_FULL, R_HASH, R_KIND,
  R_MEMB, R_MEMBERS, R_NAME, R_NLEN, R_ORDER, R_PARKED, R_RING, R_RSIZE, R_SLOT, R_SPACE, R_SPARKED, R_WAKE, hdr,
} from './layout';
import { hasExpiredMembers, rewriteMembers } from './groups';
import { DEAD, EPOCH_UNIT, GEN_MASK, GEN_SHIFT, PINS_MASK, dropExpiredHead, genOf, initRing, pin, ringSlots, unpin } from './queue';
import { stackEmpty } from './stack';

export const SLOTS_PER_BUCKET: u32 = 7;

// Status of the last lookup of this instance.
export const ST_OK: i32 = 0;
export const ST_REGISTRY_FULL: i32 = 1;
export const ST_ARENA_FULL: i32 = 2;
export const ST_NOT_FOUND: i32 = 3;
export let lookupStatus: i32 = 0;
export let lookupGen: u32 = 0;
export let lookupCreated: i32 = 0;
/**
 * Wait word of the calling instance's slot (leases.ts) in which `lookup` records the pin it
 * returns, in the same straight line as the pin (0: none). A thread killed after the pin
 * then leaves a recorded pin, which the reaper of its instance undoes.
 */
export let lookupTrackWord: u32 = 0;

/** Set {@link lookupTrackWord} (module globals cannot be assigned across modules). */
export function setLookupTrackWord(word: u32): void {
  lookupTrackWord = word;
}

/** FNV-1a over the name bytes. */
export function hashName(p: usize, len: u32): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i: u32 = 0; i < len; i++) {
    h ^= <u32>load<u8>(p + i);
    h *= 0x01000193;
  }
  return h;
}

function mix(h: u32): u32 {
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

@inline function bucketAddr(i: u32): usize {
  return <usize>load<u32>(hdr(H_REG)) + <usize>i * 32;
}

function namesEqual(r: u32, p: usize, len: u32): bool {
  if (load<u32>(<usize>r, R_NLEN) != len) return false;
  const q = <usize>r + R_NAME;
  for (let i: u32 = 0; i < len; i++) {
    if (load<u8>(q + i) != load<u8>(p + i)) return false;
  }
  return true;
}

/**
 * Scan bucket `b` for a live record of `kind` named (p, len); return it PINNED, or 0.
 * Returns 1 when a pin raced with a reclaim/reuse (the caller rescans).
 */
function findIn(b: usize, kind: u32, p: usize, len: u32, hash: u32): u32 {
  for (let s: u32 = 1; s <= SLOTS_PER_BUCKET; s++) {
    const r = atomic.load<u32>(b + <usize>s * 4);
    if (r == 0) continue;
    if (load<u32>(<usize>r, R_HASH) != hash) continue;
    const c = atomic.load<u64>(<usize>r + R_CTL);
    if ((c & DEAD) != 0) continue;
    if (!pin(r, genOf(c))) return 1;
    // Record the pin before anything that V8 could interrupt (namesEqual is a call).
    const word = <usize>lookupTrackWord;
    const tracked = word != 0 && atomic.cmpxchg<u32>(word, 0, r) == 0;
    if (load<u32>(<usize>r, R_KIND) == kind && load<u32>(<usize>r, R_HASH) == hash && namesEqual(r, p, len)) {
      lookupGen = genOf(c);
      return r;
    }
    if (tracked) atomic.cmpxchg<u32>(word, r, 0);
    atomic.add<u64>(<usize>r + R_CTL, EPOCH_UNIT - 1); // unpin, inlined: no call after the clear
  }
  return 0;
}

function freeSlot(b: usize): usize {
  for (let s: u32 = 1; s <= SLOTS_PER_BUCKET; s++) {
    if (atomic.load<u32>(b + <usize>s * 4) == 0) return b + <usize>s * 4;
  }
  return 0;
}

/** Free slots of bucket `b` (a snapshot; validated with the bucket versions like any scan). */
function freeCount(b: usize): u32 {
  let n: u32 = 0;
  for (let s: u32 = 1; s <= SLOTS_PER_BUCKET; s++) {
    if (atomic.load<u32>(b + <usize>s * 4) == 0) n++;
  }
  return n;
}

/** A fresh record (pinned once, by its creator), not yet published; 0 when out of memory. */
function newRecord(kind: u32, p: usize, len: u32, hash: u32, cap: u32, full: u32): u32 {
  let ring: u32 = 0;
  if (kind == KIND_CHANNEL) {
    if (cap == 0 || cap > 0x08000000) return 0;
    ring = allocBlock(ringSlots(cap) * 8);
    if (ring == 0) return 0;
    initRing(ring, ringSlots(cap));
  }
  let r = reuseRecord();
  let gen: u32 = 1;
  if (r != 0) {
    gen = (genOf(atomic.load<u64>(<usize>r + R_CTL)) + 1) & <u32>GEN_MASK;
  } else {
    r = allocBlock(RECORD_SIZE - <u32>BLOCK_HDR);
    if (r == 0) {
      if (ring != 0) releaseBlock(ring);
      return 0;
    }
    atomic.add<i32>(hdr(H_RECTOTAL), 1);
  }
  const a = <usize>r;
  memory.fill(a + R_KIND, 0, <usize>RECORD_SIZE - R_KIND);
  store<u32>(a, kind, R_KIND);
  store<u32>(a, hash, R_HASH);
  store<u32>(a, len, R_NLEN);
  memory.copy(a + R_NAME, p, len);
  if (kind == KIND_CHANNEL) {
    store<u32>(a, cap, R_CAP);
    store<u32>(a, ring, R_RING);
    store<u32>(a, ringSlots(cap), R_RSIZE);
    store<u32>(a, full & 0xff, R_FULL);
    store<u32>(a, full >> 8, R_ORDER); // the caller passes the order in bit 8 (1: LIFO)
  }
  // DEAD until published: nobody can pin a record that is not in the registry yet (a stale
  // slot read by another thread may reach it), so discarding an unpublished record is safe.
  atomic.store<u64>(a + R_CTL, (<u64>gen << GEN_SHIFT) | DEAD | 1);
  lookupGen = gen;
  return r;
}

/** Give an unpublished or unlinked record (and its ring) back. */
function discardRecord(r: u32): void {
  const a = <usize>r;
  if (load<u32>(a, R_KIND) == KIND_CHANNEL) {
    const ring = load<u32>(a, R_RING);
    if (ring != 0) releaseBlock(ring);
    store<u32>(a, 0, R_RING);
  }
  const c = atomic.load<u64>(a + R_CTL);
  atomic.store<u64>(a + R_CTL, (c & (GEN_MASK << GEN_SHIFT)) | DEAD);
  retireRecord(r); // back to the arena after a grace period (epoch.ts)
}

/**
 * Find the record of `kind` named by the `len` bytes at `p`, creating it when `create`
 * (a channel gets a ring of `cap` slots and full policy `full`). Returns it PINNED with its
 * generation in `lookupGen`, or 0 with `lookupStatus` saying why.
 */
export function lookup(kind: u32, p: usize, len: u32, create: bool, cap: u32, full: u32): u32 {
  lookupStatus = ST_OK;
  lookupCreated = 0;
  if (len == 0 || len > MAX_NAME) {
    lookupStatus = ST_NOT_FOUND;
    return 0;
  }
  const hash = hashName(p, len);
  const mask = load<u32>(hdr(H_BUCKETS)) - 1;
  const i1 = hash & mask;
  let i2 = mix(hash) & mask;
  if (i2 == i1) i2 = (i1 + 1) & mask;
  const b1 = bucketAddr(i1);
  const b2 = bucketAddr(i2);
  let mine: u32 = 0;
  while (true) {
    const v1 = atomic.load<u32>(b1);
    const v2 = atomic.load<u32>(b2);
    if (((v1 | v2) & 1) != 0) continue; // a writer is inside (a few instructions): retry
    let r = findIn(b1, kind, p, len, hash);
    if (r == 0) r = findIn(b2, kind, p, len, hash);
    if (r == 1) continue;
    if (r != 0) {
      if (mine != 0) discardRecord(mine);
      return r;
    }
    if (!create) {
      lookupStatus = ST_NOT_FOUND;
      return 0;
    }
    // Two choices only balance the load if a name goes to the EMPTIER of its buckets:
    // "first bucket unless full" fills the table to about half before refusing names.
    const slot = freeCount(b2) > freeCount(b1) ? freeSlot(b2) : freeSlot(b1);
    if (slot == 0) {
      if (atomic.load<u32>(b1) != v1 || atomic.load<u32>(b2) != v2) continue;
      if (mine != 0) discardRecord(mine);
      lookupStatus = ST_REGISTRY_FULL;
      return 0;
    }
    if (mine == 0) {
      mine = newRecord(kind, p, len, hash, cap, full);
      if (mine == 0) {
        lookupStatus = ST_ARENA_FULL;
        return 0;
      }
      continue; // building took time: rescan before publishing
    }
    // Take both buckets only if nothing changed since the scan; then publish. No call, no loop.
    if (atomic.cmpxchg<u32>(b1, v1, v1 + 1) != v1) continue;
    if (atomic.cmpxchg<u32>(b2, v2, v2 + 1) != v2) {
      atomic.store<u32>(b1, v1);
      continue;
    }
    store<u32>(<usize>mine, <u32>slot, R_SLOT);
    atomic.store<u32>(slot, mine);
    atomic.store<u64>(<usize>mine + R_CTL, atomic.load<u64>(<usize>mine + R_CTL) & ~DEAD); // alive, still pinned by us
    if (lookupTrackWord != 0) atomic.cmpxchg<u32>(<usize>lookupTrackWord, 0, mine);
    atomic.store<u32>(b2, v2 + 2);
    atomic.store<u32>(b1, v1 + 2);
    lookupGen = genOf(atomic.load<u64>(<usize>mine + R_CTL));
    lookupCreated = 1;
    return mine;
  }
}

/** Remove record `r` from its slot (if it is still there). */
function unlink(r: u32): void {
  const slot = <usize>load<u32>(<usize>r, R_SLOT);
  const b = slot & ~(<usize>31);
  while (true) {
    const v = atomic.load<u32>(b);
    if ((v & 1) != 0) continue;
    if (atomic.cmpxchg<u32>(b, v, v + 1) != v) continue;
    if (atomic.load<u32>(slot) == r) atomic.store<u32>(slot, 0);
    atomic.store<u32>(b, v + 2);
    return;
  }
}

/** True when record `r` holds nothing anyone can observe (see the reclaim protocol). */
function unused(r: u32): bool {
  const a = <usize>r;
  const kind = load<u32>(a, R_KIND);
  if (kind == KIND_CHANNEL) {
    return atomic.load<u64>(a + R_ENQ) == atomic.load<u64>(a + R_DEQ) && stackEmpty(r) &&
      atomic.load<i32>(a + R_MEMB) == 0 && atomic.load<i32>(a + R_PARKED) <= 0 &&
      atomic.load<i32>(a + R_SPARKED) <= 0;
  }
  if (kind == KIND_GROUP) return <u32>atomic.load<u64>(a + R_MEMBERS) == 0;
  return false;
}

/** Try to reclaim record `r` (see the protocol above). True when it was reclaimed. */
export function tryReclaim(r: u32): bool {
  const a = <usize>r;
  const c = atomic.load<u64>(a + R_CTL);
  if ((c & (PINS_MASK | DEAD)) != 0) return false;
  if (!unused(r)) return false;
  if (atomic.cmpxchg<u64>(a + R_CTL, c, c | DEAD) != c) return false;
  if (!unused(r)) {
    // Only possible if the 20-bit epoch wrapped between the read of c and the CAS.
    atomic.store<u64>(a + R_CTL, c);
    return false;
  }
  unlink(r);
  discardRecord(r);
  return true;
}

/** Total registry slots (buckets x 7). */
export function slotCount(): u32 {
  return load<u32>(hdr(H_BUCKETS)) * SLOTS_PER_BUCKET;
}

/** Record address in slot number `i` (0 when free). */
export function slotRecord(i: u32): u32 {
  const b = bucketAddr(i / SLOTS_PER_BUCKET);
  return atomic.load<u32>(b + <usize>(i % SLOTS_PER_BUCKET + 1) * 4);
}

/** Pin whatever live record is in slot `i`; returns it (generation in lookupGen) or 0. */
export function pinSlot(i: u32): u32 {
  while (true) {
    const r = slotRecord(i);
    if (r == 0) return 0;
    const c = atomic.load<u64>(<usize>r + R_CTL);
    if ((c & DEAD) != 0) return 0;
    if (pin(r, genOf(c))) {
      if (slotRecord(i) != r) {
        unpin(r);
        continue;
      }
      lookupGen = genOf(c);
      return r;
    }
  }
}

/**
 * Visit `n` slots from the shared sweep cursor: drop group members added at or before
 * `groupCutoff` (ms) and expired messages (sent at or before `messageCutoff`) at the head of
 * channels, then reclaim unused records. So the channel of a client that went away is freed
 * once its last messages expire. Returns how many records were reclaimed.
 */
export function sweep(n: u32, groupCutoff: f64, messageCutoff: f64): u32 {
  const total = slotCount();
  const start = atomic.add<u32>(hdr(H_SWEEP), n) % total;
  let done: u32 = 0;
  for (let k: u32 = 0; k < n && k < total; k++) {
    const i = (start + k) % total;
    let r = slotRecord(i);
    if (r == 0) continue;
    const kind = load<u32>(<usize>r, R_KIND);
    const stale = kind == KIND_GROUP
      ? hasExpiredMembers(r, groupCutoff)
      : atomic.load<u64>(<usize>r + R_ENQ) != atomic.load<u64>(<usize>r + R_DEQ) || !stackEmpty(r); // a hint only
    if (stale) {
      r = pinSlot(i);
      if (r == 0) continue;
      const pinnedKind = load<u32>(<usize>r, R_KIND);
      if (pinnedKind == KIND_GROUP) rewriteMembers(r, 0, 0, 0, groupCutoff);
      else if (pinnedKind == KIND_CHANNEL) dropExpiredHead(r, messageCutoff);
      unpin(r);
    }
    if (tryReclaim(r)) done++;
  }
  return done;
}

/** Records in use (record blocks minus those waiting in limbo). */
export function recordsInUse(): i32 {
  return atomic.load<i32>(hdr(H_RECTOTAL)) - atomic.load<i32>(hdr(H_RECFREE));
}

// Offsets of the wake words in a channel record, for the JS side's Atomics.waitAsync
// (exported from index.ts as wasm globals, so JS never hard-codes the layout).
export const OFF_WAKE: u32 = <u32>R_WAKE;
export const OFF_PARKED: u32 = <u32>R_PARKED;
export const OFF_SPACE: u32 = <u32>R_SPACE;
export const OFF_SPARKED: u32 = <u32>R_SPARKED;
