// Groups: membership with add time, and group delivery.
//
// Algorithm: copy-on-write member arrays published through one 64-bit word per group,
// `members` = (array address | version << 32). A member array is an arena block holding
// [count][pad] then `count` entries of (channel record, generation, added-at ms as f64).
//
//  - Writers (groupAdd / groupDiscard / pruning of expired members) are lock-free: read the
//    word, build a new array privately from the old one, and CAS the word from old to new
//    (version + 1). A failed CAS (another writer won) frees the new array and retries. The
//    winner frees the old array. No lock is ever held, so a terminated writer blocks nobody.
//  - Readers (groupSend) copy the array into a private scratch area, then re-read the word:
//    unchanged means the array was not replaced, hence not freed, while it was copied, so
//    the copy is a consistent snapshot (the version makes ABA impossible in practice). A
//    reader that raced with a writer may have read a freed block: it only read garbage from
//    linear memory (counts are clamped, addresses stay in bounds), and it discards the copy.
//    Acting only on a validated snapshot is what makes "every message reaches exactly the
//    members present for the whole send".
//  - Membership count: each channel record counts the groups it belongs to (`memberships`);
//    a channel with memberships > 0 is never reclaimed, so a member entry's (record,
//    generation) stays valid while the entry exists. groupAdd increments it BEFORE
//    publishing (a terminated writer can only leave it too high: a leak, never a dangling
//    member) and every writer decrements it for the entries it removed AFTER publishing.
//  - Expired members (added before now - groupExpiry) are skipped by groupSend and dropped
//    by the next writer of that group.
//
// groupSend stores the message once: the sender holds one reference, and each member
// enqueue adds one before pushing (undone when that member is full).

import { allocBlock, releaseBlock, retainBlock } from './arena';
import { B_REFS, BLOCK_HDR, FULL_DROP_OLDEST, R_CTL, R_FULL, R_MEMB, R_MEMBERS, hdr, H_END } from './layout';
import { genOf, pin, push, releaseOwned, ringPop, unpin } from './queue';
import { wakeReceivers } from './wake';

const ENTRY: u32 = 16;
const ARR_HDR: usize = BLOCK_HDR + 8;

/** Members dropped (full channels) by the last groupSend of this instance. */
export let groupDropped: i32 = 0;

@inline function countOf(arr: u32): u32 {
  return arr == 0 ? 0 : load<u32>(<usize>arr + BLOCK_HDR);
}

/** Clamp a count read from a possibly freed array so that reading entries stays in memory. */
function clampCount(arr: u32, n: u32): u32 {
  const end = load<u32>(hdr(H_END));
  const room = (end - arr - <u32>ARR_HDR) / ENTRY;
  return n > room ? room : n;
}

/**
 * Rewrite the members of pinned group `g`: drop `remove` (0: none), drop members added at
 * or before `cutoff`, and add or refresh `add` (0: none; pinned by the caller) at time `now`.
 * Returns 1 when done, 0 when the arena has no room for the new array.
 */
export function rewriteMembers(g: u32, add: u32, remove: u32, now: f64, cutoff: f64): i32 {
  const word = <usize>g + R_MEMBERS;
  let addGen: u32 = 0;
  if (add != 0) {
    addGen = genOf(atomic.load<u64>(<usize>add + R_CTL));
    atomic.add<i32>(<usize>add + R_MEMB, 1); // before publishing (see above)
  }
  while (true) {
    const w = atomic.load<u64>(word);
    const old = <u32>w;
    const n = clampCount(old, countOf(old));
    // Is there anything to change?
    let changes = add != 0;
    let removals: u32 = 0;
    for (let i: u32 = 0; i < n; i++) {
      const e = <usize>old + ARR_HDR + <usize>i * ENTRY;
      const rec = load<u32>(e);
      if (rec == remove || rec == add || load<f64>(e, 8) <= cutoff) removals++;
    }
    if (removals > 0) changes = true;
    if (!changes) {
      if (atomic.load<u64>(word) != w) continue;
      return 1;
    }
    const keep = n - (removals > n ? n : removals);
    const count = keep + (add != 0 ? 1 : 0);
    let arr: u32 = 0;
    if (count > 0) {
      arr = allocBlock(8 + count * ENTRY);
      if (arr == 0) {
        if (atomic.load<u64>(word) != w) continue;
        if (add != 0) atomic.sub<i32>(<usize>add + R_MEMB, 1);
        return 0;
      }
      let j: u32 = 0;
      for (let i: u32 = 0; i < n && j < count; i++) {
        const e = <usize>old + ARR_HDR + <usize>i * ENTRY;
        const rec = load<u32>(e);
        if (rec == remove || rec == add || load<f64>(e, 8) <= cutoff) continue;
        memory.copy(<usize>arr + ARR_HDR + <usize>j * ENTRY, e, ENTRY);
        j++;
      }
      if (add != 0) {
        const e = <usize>arr + ARR_HDR + <usize>j * ENTRY;
        store<u32>(e, add);
        store<u32>(e, addGen, 4);
        store<f64>(e, now, 8);
        j++;
      }
      store<u32>(<usize>arr + BLOCK_HDR, j);
    }
    const nw = ((((w >> 32) + 1) & 0xffffffff) << 32) | <u64>arr;
    if (atomic.cmpxchg<u64>(word, w, nw) != w) {
      if (arr != 0) releaseBlock(arr);
      continue;
    }
    // Published. The old array is ours now: settle membership counts, then free it.
    for (let i: u32 = 0; i < n; i++) {
      const e = <usize>old + ARR_HDR + <usize>i * ENTRY;
      const rec = load<u32>(e);
      if (rec == remove || rec == add || load<f64>(e, 8) <= cutoff) {
        atomic.sub<i32>(<usize>rec + R_MEMB, 1);
      }
    }
    if (old != 0) releaseBlock(old);
    return 1;
  }
}

/** Remove every member of pinned group `g`. */
export function clearMembers(g: u32): void {
  const word = <usize>g + R_MEMBERS;
  while (true) {
    const w = atomic.load<u64>(word);
    const old = <u32>w;
    if (old == 0) return;
    const nw = ((((w >> 32) + 1) & 0xffffffff) << 32);
    if (atomic.cmpxchg<u64>(word, w, nw) != w) continue;
    const n = countOf(old);
    for (let i: u32 = 0; i < n; i++) {
      atomic.sub<i32>(<usize>load<u32>(<usize>old + ARR_HDR + <usize>i * ENTRY) + R_MEMB, 1);
    }
    releaseBlock(old);
    return;
  }
}

/**
 * Deliver message `h` (the caller's reference is consumed) to every member of pinned group
 * `g` added after `cutoff`. `scratch` (room for `scratchCap` entries) receives the snapshot.
 * Returns the number of deliveries, or -(members) when the scratch area is too small (the
 * caller's reference is then kept). Full members are counted in `groupDropped`, except
 * drop-oldest channels, whose oldest message is dropped (and counted) to make room.
 */
export function groupSend(g: u32, h: u32, cutoff: f64, scratch: usize, scratchCap: u32): i32 {
  groupDropped = 0;
  const word = <usize>g + R_MEMBERS;
  let n: u32 = 0;
  while (true) {
    const w = atomic.load<u64>(word);
    const arr = <u32>w;
    n = clampCount(arr, countOf(arr));
    if (n > scratchCap) {
      if (atomic.load<u64>(word) != w) continue;
      return -<i32>n;
    }
    if (n > 0) memory.copy(scratch, <usize>arr + ARR_HDR, <usize>n * ENTRY);
    if (atomic.load<u64>(word) == w) break;
  }
  let delivered: i32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const e = scratch + <usize>i * ENTRY;
    if (load<f64>(e, 8) <= cutoff) continue;
    const rec = load<u32>(e);
    if (!pin(rec, load<u32>(e, 4))) continue;
    retainBlock(h, 1);
    let ok = push(rec, h);
    if (!ok && load<u32>(<usize>rec, R_FULL) == FULL_DROP_OLDEST) {
      const old = ringPop(rec, 0); // the oldest: drop-oldest exists on FIFO channels only
      if (old != 0) {
        releaseBlock(old);
        groupDropped++;
      }
      ok = push(rec, h);
    }
    if (ok) {
      delivered++;
      wakeReceivers(rec); // after the push; the sender's own reference keeps h tracked and alive
    } else {
      atomic.sub<i32>(<usize>h + B_REFS, 1); // cannot reach 0: the sender still holds one
      groupDropped++;
    }
    unpin(rec);
  }
  releaseOwned(h); // the sender's reference (in its hands since alloc, see arena.ts `sendSlot`)
  return delivered;
}

/** True when group `g` (pinned or not: a racy read is only a hint) has a member added at or before `cutoff`. */
export function hasExpiredMembers(g: u32, cutoff: f64): bool {
  const arr = <u32>atomic.load<u64>(<usize>g + R_MEMBERS);
  const n = clampCount(arr, countOf(arr));
  for (let i: u32 = 0; i < n; i++) {
    if (load<f64>(<usize>arr + ARR_HDR + <usize>i * ENTRY, 8) <= cutoff) return true;
  }
  return false;
}

/** Members of pinned group `g` (live or expired). */
export function memberCount(g: u32): u32 {
  const arr = <u32>atomic.load<u64>(<usize>g + R_MEMBERS);
  return countOf(arr);
}
