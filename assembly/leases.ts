// At-least-once delivery: the lease table, and the instance table that says whose leases are
// whose (and which scratch blocks a dead thread leaves behind).
//
// Lease table: `H_LEASECAP` slots of 32 bytes, allocated once when the bus is created:
//   0  ctl (u64): owner instance id << 32 | sequence << 2 | state
//   8  handle   12 deliveries   16 channel record   20 channel generation   24 deadline (f64 ms)
// States: FREE -> CLAIMED (a taker reserved it) -> HELD (the lease is out) -> SETTLING (its
// ack, nack, timeout or its holder's death is being carried out) -> FREE. Every transition out
// of FREE, CLAIMED and HELD is one CAS on ctl; the sequence number changes at each return to
// FREE, so a late `ack` of an expired lease (the slot reused since) fails instead of settling
// somebody else's lease.
//
// Algorithm (lock-free, no thread ever waits for another):
//  - take: claim a FREE slot by CAS (owner = me), pin the channel record (a lease keeps its
//    channel alive: the message must be able to go back), record (channel, generation), then
//    pop: the redelivery lane / LIFO stack first (stack.ts), else the Vyukov ring. The handle
//    popped is stored in the slot right after the pop's CAS, with no call and no loop in
//    between, so at every instant the message is either in its channel or in a slot.
//    Then deadline, deliveries and state HELD.
//  - ack: CAS HELD(seq) -> SETTLING, clear the slot, FREE(seq + 1), release the message.
//  - nack / timeout sweep / death reap: CAS to SETTLING (owner = whoever does it), push the
//    handle back on its channel's lane with deliveries (so it is the next message taken), or
//    to the dead-letter channel once deliveries reached maxDeliveries; then FREE(seq + 1).
//
// Invariants: a message handle is owned by exactly one of {a channel ring, a stack node, a
// lease slot}; a slot with a non-zero handle whose owner died is requeued by the reaper (a
// CLAIMED or SETTLING slot of a dead owner means it died in the middle: before the pop's
// store the handle field is 0 and nothing is to be done; after a successful push back the
// slot is freed in the same straight line, so a requeue never happens twice). What a thread
// killed inside these functions can leave behind is a leaked block (a node, or a message it
// was releasing) or an extra pin: never a lost or duplicated live message.
//
// Instance table: `H_INSTCAP` slots of 64 bytes: [live][thread id][message being sent]
// [message being received] (the in-hand words, see arena.ts) [record pinned for a wait]
// [parked counter incremented by a wait] [announced reclamation epoch] (epoch.ts)
// [28: suspect since] [32: decode-cache table (fanout.ts)] [36..63: hold table, the pins it
// keeps on its hot channels (holds.ts)]. The first MAG_SLOTS slots also have a magazine
// table (magazine.ts), in a region allocated with the instance table.
// (the wait words, written by JS: set right after the
// pin / increment, cleared right before the unpin / decrement, by compare-and-swap, so a set
// word always stands for a pin or an increment still in effect) [suspect since] (below).
// Every layer instance claims one; its 1-based index is the owner id of its leases. When a
// thread is known to have exited (`layer.watch(worker)`, a pool worker's exit), its instances
// are reaped: their leases go back to their channels at once, the messages they had in hand
// are freed, the pins and parked counts of the waits they died in are undone, and their slots
// are freed.
//
// The live word: bit 0 live, bit 1 suspect, bits 2.. the claim generation (incremented by
// every claim, kept while free). An instance knows its claim token (generation | live) and
// reads the word at the start of every operation: anything but its token (or its token with
// the suspect bit, which it clears by CAS) means its slot was taken from it.
//
// Liveness (for threads terminated without anybody watching them): when slots run short,
// `instanceSweepStale` marks every live slot suspect (CAS token -> token | suspect, and the
// time in [suspect since]) and reclaims the slots that stayed suspect for `stale` (CAS
// token | suspect -> free). A live instance clears the mark within a fraction of that time
// (a timer, and the check at each operation), so only an instance whose thread ran neither
// its event loop nor a ringbus call for `stale` is reclaimed. Such a reclaim is conservative,
// because that thread may be alive and stalled: its leases go back to their channels (a
// redelivery, which at-least-once allows: its later ack resolves false), its held pins and
// decode-cache references are given back (holds.ts, fanout.ts: its JS touches them only after
// the live-word check, at an operation or a timer tick), and nothing else is undone: the messages it had in hand are not freed and the pins and parked counts of its
// waits are not undone (a dead thread leaks them: a block or two, one record pin, one parked
// count that makes senders on that channel notify for nothing). A stalled-but-alive instance
// sees the changed live word at its next operation, before it touches anything, and closes
// itself without touching the slot (LayerClosed); its own waits undo their own pins and counts
// (at worst clearing the record word of the slot's next owner, which only makes that owner's
// death-reap leak instead of undo). The check and the CAS on the same word make a reclaim of
// an instance in the middle of an operation impossible: the CAS needs the suspect bit that
// operation's check cleared.

import { allocBlock, freeBlock, releaseBlock, trackInstance } from './arena';
import { I_EPOCH, currentEpoch } from './epoch';
import { holdsRelease, holdsReset } from './holds';
import { I_CACHE, cacheRelease } from './fanout';
import { magAttach, magDetach, magRelease, magSetup } from './magazine';
import { B_REFS, B_TIME, H_INST, H_INSTCAP, H_LEASECAP, H_LEASES, hdr } from './layout';
import { countExpired, isLifo, pin, push, ringPop, roomMade, unpin } from './queue';
import { wakeReceivers } from './wake';
import { nodeDeliveries, nodeHandle, releaseNode, stackPop, stackPush } from './stack';

const L_CTL: usize = 0;
const L_HANDLE: usize = 8;
const L_DELIV: usize = 12;
const L_REC: usize = 16;
const L_GEN: usize = 20;
const L_DEADLINE: usize = 24;
const LSLOT: usize = 32;

const ST_FREE: u64 = 0;
const ST_CLAIMED: u64 = 1;
const ST_HELD: u64 = 2;
const ST_SETTLING: u64 = 3;
const SEQ_MASK: u64 = 0x3fffffff;

const I_LIVE: usize = 0;
const I_THREAD: usize = 4;
const I_SEND: usize = 8;
const I_RECV: usize = 12;
const I_PIN: usize = 16;
const I_PARK: usize = 20;
const I_SINCE: usize = 28;
const ISLOT: usize = 64;
const LIVE_BIT: u32 = 1;
const SUSPECT_BIT: u32 = 2;
const GEN_UNIT: u32 = 4;
/** This wasm instance's own instance id (0: none). */
let myId: u32 = 0;

@inline function stateOf(c: u64): u64 {
  return c & 3;
}
@inline function seqOf(c: u64): u32 {
  return <u32>((c >> 2) & SEQ_MASK);
}
@inline function ownerOf(c: u64): u32 {
  return <u32>(c >> 32);
}
@inline function ctl(owner: u32, seq: u32, st: u64): u64 {
  return (<u64>owner << 32) | ((<u64>seq & SEQ_MASK) << 2) | st;
}
@inline function slotAddr(i: u32): usize {
  return <usize>load<u32>(hdr(H_LEASES)) + <usize>i * LSLOT;
}

/**
 * Allocate the lease table (`leases` slots, 0: none) and the instance table (`instances`
 * slots) for a fresh bus. Called once by the creating thread. 1 ok, 0 no room.
 */
export function setupTables(leases: u32, instances: u32): i32 {
  if (atomic.load<u32>(hdr(H_INSTCAP)) != 0) return 1; // already done
  const it = allocBlock(instances * <u32>ISLOT);
  if (it == 0) return 0;
  memory.fill(<usize>it + 16, 0, <usize>instances * ISLOT);
  if (leases > 0) {
    const lt = allocBlock(leases * <u32>LSLOT);
    if (lt == 0) {
      releaseBlock(it);
      return 0;
    }
    memory.fill(<usize>lt + 16, 0, <usize>leases * LSLOT);
    store<u32>(hdr(H_LEASES), lt + 16);
    store<u32>(hdr(H_LEASECAP), leases);
  }
  store<u32>(hdr(H_INST), it + 16);
  magSetup(instances); // the magazine tables (magazine.ts; none when the arena has no room)
  atomic.store<u32>(hdr(H_INSTCAP), instances);
  return 1;
}

// ---- instances -----------------------------------------------------------------------------

@inline function instAddr(id: u32): usize {
  return <usize>load<u32>(hdr(H_INST)) + <usize>(id - 1) * ISLOT;
}

/** The claim token of the last successful `instanceClaim` of this wasm instance. */
let claimed: u32 = 0;

/** Claim an instance slot for a layer instance of thread `thread`: its id (>= 1), or 0 when full. */
export function instanceClaim(thread: i32): u32 {
  const n = atomic.load<u32>(hdr(H_INSTCAP));
  for (let id: u32 = 1; id <= n; id++) {
    const a = instAddr(id);
    const v = atomic.load<u32>(a + I_LIVE);
    if ((v & LIVE_BIT) != 0) continue;
    const token = ((v & ~(GEN_UNIT - 1)) + GEN_UNIT) | LIVE_BIT;
    if (atomic.cmpxchg<u32>(a + I_LIVE, v, token) == v) {
      claimed = token;
      atomic.store<u32>(a + I_SINCE, 0);
      atomic.store<u32>(a + I_SEND, 0);
      atomic.store<u32>(a + I_RECV, 0);
      atomic.store<u32>(a + I_PIN, 0);
      atomic.store<u32>(a + I_PARK, 0);
      atomic.store<u32>(a + I_EPOCH, currentEpoch()); // before it reads any record (epoch.ts)
      atomic.store<i32>(a + I_THREAD, thread);
      holdsReset(a); // its hold table (holds.ts)
      atomic.store<u32>(a + I_CACHE, 0); // no decode-cache table yet (fanout.ts)
      myId = id;
      trackInstance(a, I_SEND, I_RECV);
      magAttach(id); // its block magazines (magazine.ts; none when the arena has no room)
      return id;
    }
  }
  return 0;
}

/** The next live instance id >= `from` that belongs to thread `thread`; 0 when none. */
export function instanceOfThread(thread: i32, from: u32): u32 {
  const n = atomic.load<u32>(hdr(H_INSTCAP));
  for (let id: u32 = from < 1 ? 1 : from; id <= n; id++) {
    const a = instAddr(id);
    if ((atomic.load<u32>(a + I_LIVE) & LIVE_BIT) != 0 && atomic.load<i32>(a + I_THREAD) == thread) return id;
  }
  return 0;
}

/** Address of the slot of instance `id` (JS writes its wait words there); 0 when none. */
export function instanceSlot(id: u32): u32 {
  if (id == 0 || id > atomic.load<u32>(hdr(H_INSTCAP))) return 0;
  return <u32>instAddr(id);
}

/** Live instances (attached layers that did not close and were not reaped). */
export function instancesLive(): u32 {
  const n = atomic.load<u32>(hdr(H_INSTCAP));
  let live: u32 = 0;
  for (let id: u32 = 1; id <= n; id++) if ((atomic.load<u32>(instAddr(id) + I_LIVE) & LIVE_BIT) != 0) live++;
  return live;
}

/**
 * Free instance `id`. `dead`: its thread is gone (its leases were reaped): the messages it
 * had in hand are freed too (see queue.ts `releaseOwned` for the refcount rule). Otherwise it
 * closed: whatever it still holds, it releases itself.
 */
export function instanceFree(id: u32, dead: bool): void {
  if (id == 0 || id > atomic.load<u32>(hdr(H_INSTCAP))) return;
  const a = instAddr(id);
  if (id == myId) {
    trackInstance(0, 0, 0);
    magDetach();
    myId = 0;
  }
  for (let w: usize = I_SEND; w <= I_RECV; w += 4) {
    const h = atomic.load<u32>(a + w);
    atomic.store<u32>(a + w, 0);
    if (dead && h != 0) {
      if (atomic.load<i32>(<usize>h + B_REFS) == 0) freeBlock(h);
      else releaseBlock(h);
    }
  }
  // A wait it died in: its parked count, then its pin (the record lives while pinned).
  const park = atomic.load<u32>(a + I_PARK);
  const rec = atomic.load<u32>(a + I_PIN);
  atomic.store<u32>(a + I_PARK, 0);
  atomic.store<u32>(a + I_PIN, 0);
  if (dead && park != 0) atomic.sub<i32>(<usize>park, 1);
  if (dead && rec != 0) unpin(rec);
  holdsRelease(a); // the pins it held on its hot channels (holds.ts), dead or closing
  cacheRelease(a); // the blocks its decode cache held (fanout.ts)
  magRelease(id); // the blocks of its magazines back to their pages (magazine.ts)
  atomic.store<i32>(a + I_THREAD, -1);
  atomic.store<u32>(a + I_LIVE, atomic.load<u32>(a + I_LIVE) & ~(GEN_UNIT - 1)); // free, same generation
}

/** The claim token of this wasm instance's last claim (JS compares the live word with it). */
export function instanceToken(): u32 {
  return claimed;
}

/** This wasm instance's layer lost its slot (reclaimed as stale): stop writing to it. */
export function instanceDetach(): void {
  trackInstance(0, 0, 0);
  magDetach();
  myId = 0;
}

/**
 * Liveness sweep, for when instance slots run short (see the module comment): reclaim every
 * slot that stayed suspect for at least `stale` ticks (its leases go back, with `dead` /
 * `maxDeliveries` as in `leaseSweep`; nothing else of it is undone), and mark every other
 * live slot suspect since `now` (ticks: any unit, compared modulo 2^32). `nowMs`: the time for
 * lease deadlines. Returns the number of slots reclaimed.
 */
export function instanceSweepStale(now: u32, stale: u32, nowMs: f64, me: u32, dead: u32, maxDeliveries: u32): u32 {
  const n = atomic.load<u32>(hdr(H_INSTCAP));
  let reclaimed: u32 = 0;
  for (let id: u32 = 1; id <= n; id++) {
    if (id == myId) continue;
    const a = instAddr(id);
    const v = atomic.load<u32>(a + I_LIVE);
    if ((v & LIVE_BIT) == 0) continue;
    if ((v & SUSPECT_BIT) == 0) {
      atomic.store<u32>(a + I_SINCE, now);
      atomic.cmpxchg<u32>(a + I_LIVE, v, v | SUSPECT_BIT);
      continue;
    }
    if (now - atomic.load<u32>(a + I_SINCE) < stale) continue;
    // Take it with one CAS that fails if its instance cleared the mark meanwhile, into a
    // state that is not its token (it sees it lost the slot) and not claimable (live bit),
    // then give its leases back and free the slot: no new owner can be there yet.
    const reclaiming = ((v & ~(GEN_UNIT - 1)) + GEN_UNIT) | LIVE_BIT;
    if (atomic.cmpxchg<u32>(a + I_LIVE, v, reclaiming) != v) continue;
    leaseSweep(nowMs, me, dead, maxDeliveries, id);
    atomic.store<u32>(a + I_SEND, 0);
    atomic.store<u32>(a + I_RECV, 0);
    atomic.store<u32>(a + I_PIN, 0);
    atomic.store<u32>(a + I_PARK, 0);
    atomic.store<i32>(a + I_THREAD, -1);
    holdsRelease(a); // its held pins and decode-cache references: its timers and operations
    cacheRelease(a); // touch them only after checking the live word (src/layers/shared/holds.ts)
    magRelease(id); // its magazines: its blocks are freed only inside an operation (magazine.ts)
    atomic.store<u32>(a + I_LIVE, reclaiming & ~(GEN_UNIT - 1));
    reclaimed++;
  }
  return reclaimed;
}

// ---- leases --------------------------------------------------------------------------------

/** Results of the last successful `leaseTake` of this instance. */
export let takenSeq: u32 = 0;
export let takenHandle: u32 = 0;
export let takenDeliveries: u32 = 0;
/** Where this instance starts looking for a free slot (spreads takers over the table). */
let cursor: u32 = 0;

/**
 * Take the next live message of channel (r, gen) under a lease for instance `me`, expiring at
 * `deadline`. Returns the slot number + 1 (sequence, handle and deliveries in the getters),
 * 0 when the channel is empty, -1 when no lease slot is free, -2 when the record is stale.
 */
export function leaseTake(r: u32, gen: u32, me: u32, cutoff: f64, deadline: f64): i32 {
  const cap = load<u32>(hdr(H_LEASECAP));
  if (cap == 0) return -1;
  let a: usize = 0;
  let c: u64 = 0;
  let i: u32 = 0;
  for (let k: u32 = 0; k < cap; k++) {
    i = (cursor + k) % cap;
    a = slotAddr(i);
    c = atomic.load<u64>(a + L_CTL);
    if (stateOf(c) == ST_FREE && atomic.cmpxchg<u64>(a + L_CTL, c, ctl(me, seqOf(c), ST_CLAIMED)) == c) break;
    a = 0;
  }
  if (a == 0) return -1;
  cursor = i + 1;
  const seq = seqOf(c);
  if (!pin(r, gen)) {
    atomic.store<u64>(a + L_CTL, ctl(0, seq + 1, ST_FREE));
    return -2;
  }
  atomic.store<u32>(a + L_REC, r);
  atomic.store<u32>(a + L_GEN, gen);
  const lifo = isLifo(r);
  while (true) {
    let h: u32 = 0;
    const n = stackPop(r, a + L_HANDLE); // stores the handle in the slot inside the pop's window
    if (n != 0) {
      h = nodeHandle(n);
      atomic.store<u32>(a + L_DELIV, nodeDeliveries(n) + 1);
      releaseNode(n);
    } else if (!lifo) {
      h = ringPop(r, a + L_HANDLE); // stores the handle in the slot itself, inside its window
      atomic.store<u32>(a + L_DELIV, 1);
    }
    if (h != 0) roomMade(r); // wake a parked sender only now that the slot records the message
    if (h == 0) {
      atomic.store<u32>(a + L_REC, 0);
      atomic.store<u64>(a + L_CTL, ctl(0, seq + 1, ST_FREE));
      unpin(r);
      return 0;
    }
    if (load<f64>(<usize>h, B_TIME) <= cutoff) {
      atomic.store<u32>(a + L_HANDLE, 0);
      releaseBlock(h);
      countExpired();
      continue;
    }
    store<f64>(a + L_DEADLINE, deadline);
    takenSeq = seq;
    takenHandle = h;
    takenDeliveries = atomic.load<u32>(a + L_DELIV);
    atomic.store<u64>(a + L_CTL, ctl(me, seq, ST_HELD));
    return <i32>i + 1;
  }
}

export function lastLeaseSeq(): u32 {
  return takenSeq;
}
export function lastLeaseHandle(): u32 {
  return takenHandle;
}
export function lastLeaseDeliveries(): u32 {
  return takenDeliveries;
}

/** Settle lease (slot, seq) for good. 1 when it was still held, else 0. */
export function leaseAck(slot: u32, seq: u32, me: u32): i32 {
  if (slot >= load<u32>(hdr(H_LEASECAP))) return 0;
  const a = slotAddr(slot);
  const c = atomic.load<u64>(a + L_CTL);
  if (stateOf(c) != ST_HELD || seqOf(c) != (seq & <u32>SEQ_MASK)) return 0;
  if (atomic.cmpxchg<u64>(a + L_CTL, c, ctl(me, seq, ST_SETTLING)) != c) return 0;
  const h = atomic.load<u32>(a + L_HANDLE);
  const r = atomic.load<u32>(a + L_REC);
  atomic.store<u32>(a + L_HANDLE, 0);
  atomic.store<u32>(a + L_REC, 0);
  atomic.store<u64>(a + L_CTL, ctl(0, seq + 1, ST_FREE));
  releaseBlock(h);
  unpin(r);
  return 1;
}

/**
 * Carry out a settling slot `a` (state SETTLING, ours): push its message back on the head of
 * its channel with its delivery count, or on `dead` (pinned by the caller, 0: none) once it
 * was delivered `maxDeliveries` times (0: unlimited). 1 done, -1 no arena room for the node
 * (the slot goes back to HELD with an expired deadline, so a later sweep retries).
 */
function requeue(a: usize, c: u64, dead: u32, maxDeliveries: u32): i32 {
  const h = atomic.load<u32>(a + L_HANDLE);
  const r = atomic.load<u32>(a + L_REC);
  const d = atomic.load<u32>(a + L_DELIV);
  const seq = seqOf(c);
  let to: u32 = 0; // the channel the message went back to, woken once the slot is free
  if (h != 0) {
    let ok: i32;
    if (dead != 0 && maxDeliveries != 0 && d >= maxDeliveries) {
      ok = push(dead, h) ? 1 : stackPush(dead, h, 0, 0);
      to = dead;
    } else {
      ok = stackPush(r, h, d, 0);
      to = r;
    }
    if (ok != 1) {
      store<f64>(a + L_DEADLINE, 0);
      atomic.store<u64>(a + L_CTL, ctl(ownerOf(c), seq, ST_HELD));
      return -1;
    }
  }
  atomic.store<u32>(a + L_HANDLE, 0);
  atomic.store<u32>(a + L_REC, 0);
  atomic.store<u64>(a + L_CTL, ctl(0, seq + 1, ST_FREE));
  // Only now (after the push the slot is freed in one straight line, or a reaper would
  // requeue the message a second time): wake a receiver of the channel it went back to.
  if (to != 0) wakeReceivers(to);
  if (r != 0) unpin(r);
  return 1;
}

/** Give lease (slot, seq) back to the head of its channel now. 1 when it was still held, else 0 (-1: no room, retried later). */
export function leaseNack(slot: u32, seq: u32, me: u32, dead: u32, maxDeliveries: u32): i32 {
  if (slot >= load<u32>(hdr(H_LEASECAP))) return 0;
  const a = slotAddr(slot);
  const c = atomic.load<u64>(a + L_CTL);
  if (stateOf(c) != ST_HELD || seqOf(c) != (seq & <u32>SEQ_MASK)) return 0;
  const s = ctl(me, seq, ST_SETTLING);
  if (atomic.cmpxchg<u64>(a + L_CTL, c, s) != c) return 0;
  return requeue(a, s, dead, maxDeliveries);
}

/**
 * Requeue every lease whose deadline is at or before `now` (timeout), and, when `deadOwner`
 * is non-zero, every slot of that (dead) instance whatever its state. Returns how many
 * messages went back.
 */
export function leaseSweep(now: f64, me: u32, dead: u32, maxDeliveries: u32, deadOwner: u32): u32 {
  const cap = load<u32>(hdr(H_LEASECAP));
  let n: u32 = 0;
  for (let i: u32 = 0; i < cap; i++) {
    const a = slotAddr(i);
    const c = atomic.load<u64>(a + L_CTL);
    const st = stateOf(c);
    if (st == ST_FREE) continue;
    const reap = deadOwner != 0 && ownerOf(c) == deadOwner;
    if (!reap && !(st == ST_HELD && load<f64>(a + L_DEADLINE) <= now)) continue;
    const s = ctl(me, seqOf(c), ST_SETTLING);
    if (atomic.cmpxchg<u64>(a + L_CTL, c, s) != c) continue;
    const had = atomic.load<u32>(a + L_HANDLE) != 0;
    if (st == ST_CLAIMED && !had) {
      // Died after claiming, before popping: only the pin (if recorded) to give back.
      const r = atomic.load<u32>(a + L_REC);
      atomic.store<u32>(a + L_REC, 0);
      atomic.store<u64>(a + L_CTL, ctl(0, seqOf(c) + 1, ST_FREE));
      if (r != 0) unpin(r);
      continue;
    }
    if (requeue(a, s, dead, maxDeliveries) == 1 && had) n++;
  }
  return n;
}

/** Drop every held lease and its message (flush). */
export function leaseFlush(me: u32): void {
  const cap = load<u32>(hdr(H_LEASECAP));
  for (let i: u32 = 0; i < cap; i++) {
    const a = slotAddr(i);
    const c = atomic.load<u64>(a + L_CTL);
    if (stateOf(c) != ST_HELD) continue;
    leaseAck(i, seqOf(c), me);
  }
}

/** Leases out (slots not FREE). */
export function leasesHeld(): u32 {
  const cap = load<u32>(hdr(H_LEASECAP));
  let n: u32 = 0;
  for (let i: u32 = 0; i < cap; i++) if (stateOf(atomic.load<u64>(slotAddr(i) + L_CTL)) != ST_FREE) n++;
  return n;
}
