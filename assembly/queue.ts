// Per-channel bounded MPMC queue of message handles, and the channel's wake words.
//
// Algorithm: Dmitry Vyukov's bounded MPMC queue. The ring has `capacity` slots of 8 bytes:
// a sequence stamp (low 32 bits of a 64-bit position) and a handle. Positions are u64, so
// they never wrap and any capacity works (slot = position % capacity).
//
//   push at position p: the slot is free for p when stamp == p. Claim p by CAS on the
//     enqueue position (p -> p+1), write the handle, then publish stamp = p+1.
//     stamp < p: the slot still holds the message of the previous lap -> the queue is full.
//   pop at position p: the slot holds a message for p when stamp == p+1. Claim p by CAS on
//     the dequeue position, read the handle, then free the slot for the next lap with
//     stamp = p + capacity. stamp < p+1: nothing published there -> empty.
//
// Vyukov's stamps need at least 2 slots (with one, "published for p" and "free for p+1" are
// the same stamp), so a channel of capacity 1 gets a ring of 2 slots and push also checks
// enqueue - dequeue < capacity before claiming (a fresh read of the dequeue position can
// only make the check stricter, so the depth never exceeds the capacity).
//
// Invariants: enqueue - dequeue is the depth (0..capacity); a handle is read only by the
// consumer that claimed its position, so each message is delivered at most once, and
// positions are claimed in order, so the queue is FIFO per channel.
//
// Termination safety: V8 can only stop a thread (Worker.terminate) at a function entry or a
// loop back-edge. Between a successful claim-CAS and its publishing store there is neither
// (only builtins: load/store), so no thread can leave a slot claimed but never published;
// such a slot would stall every consumer behind it forever.
// The same holds from a pop's claim to the store that hands the handle to its new owner
// (`dst`: the receiver's in-hand word or a lease slot). Pushes and pops wake nobody themselves
// (wake.ts has loops): their callers wake only after the hand-over, i.e. after `untrack` (a
// sender: a kill before it would leave a QUEUED message in the sender's in-hand word, and its
// reaper would free it under the queue) or after recording a popped message (`popRaw`,
// leases.ts). A kill between the hand-over and the wake only leaves the token (wake.ts).
//
// Waking (no lock, no lost wake-up): a receiver reads the wake word, counts itself in
// `parked` (and adds a token), re-checks the queue, and only then waits on the wake word
// (Atomics.wait / waitAsync in JS). A sender publishes its message and then reads `parked`;
// only when it is > 0 and it gets a token does it bump the wake word and notify (wake.ts:
// one notify per park, not one per push). Senders waiting for room (full policy 'wait') use
// `space` / `sparked` the same way, signalled by pops at the low-water mark (hysteresis).
//
// Order and redelivery: `push` / `popRaw` are the channel's queue whatever its order. A LIFO
// channel keeps its messages in a Treiber stack instead of the ring (stack.ts); a FIFO channel
// has one too, as its redelivery lane (messages given back by at-least-once delivery return
// to the head of their channel), which `popRaw` drains before the ring.

import {
  BLOCK_HDR, B_REFS, B_TIME, R_CAP, R_CTL, R_DEQ, R_ENQ, R_ORDER, R_RING, R_RSIZE,
} from './layout';
import { freeBlock, recvSlot, releaseBlock, untrack } from './arena';
import { sendersParked, wakeSenders } from './wake';
import { nodeHandle, releaseNode, stackDepth, stackDropExpired, stackEmpty, stackPop, stackPush } from './stack';

/** True for a LIFO channel (its queue is the stack). */
@inline export function isLifo(r: u32): bool {
  return load<u32>(<usize>r, R_ORDER) != 0;
}

/**
 * Enqueue handle `h` on pinned channel `r` (the ring, or the stack of a LIFO channel): true,
 * or false when full (or, for a LIFO channel, when the arena has no 32-byte node left).
 * Wakes nobody: once the message is handed over (untracked), the caller calls
 * `wakeReceivers(r)` (wake.ts).
 */
export function push(r: u32, h: u32): bool {
  if (isLifo(r)) return stackPush(r, h, 0, load<u32>(<usize>r, R_CAP)) == 1;
  return ringPush(r, h);
}

/**
 * Dequeue the next handle of pinned channel `r`, expired or not (0 when empty): the top of
 * the stack (a LIFO channel's newest message, or a FIFO channel's redelivered one), else the
 * oldest of the ring. When `dst` is not 0, the handle is stored there right after the pop's
 * CAS, before any call or back-edge (see arena.ts `recvSlot`).
 */
export function popRaw(r: u32, dst: usize = 0): u32 {
  if (!stackEmpty(r)) {
    const n = stackPop(r, dst); // stores the handle at dst inside the pop's window
    if (n != 0) {
      const h = nodeHandle(n);
      releaseNode(n);
      roomMade(r);
      return h;
    }
  }
  if (isLifo(r)) return 0;
  const h = ringPop(r, dst);
  if (h != 0) roomMade(r);
  return h;
}

/**
 * A message left pinned channel `r` (after its popper recorded it): wake a parked sender if
 * the channel is at its low-water mark (wake.ts). The depth that counts is the one capacity
 * applies to: the stack of a LIFO channel, the ring of a FIFO one.
 */
export function roomMade(r: u32): void {
  if (sendersParked(r)) wakeSenders(r, isLifo(r) ? stackDepth(r) : ringDepth(r));
}

// In-hand tracking, for threads that die: the words live in arena.ts (`sendSlot`, `recvSlot`,
// `trackInstance`, `untrack`), because freeing a block must forget it at the instant the block
// goes back to its page (see `freeBlock`), before anything else can reuse it.

/**
 * Drop this instance's reference to `h` and forget it. The decrement comes first. On the last
 * reference, `freeBlock` forgets the block itself, in the same straight line as the step that
 * gives it back to its page; every kill point before that step leaves the block tracked with a
 * refcount of 0 and not yet free, which the reaper recognises (it then frees the block; a
 * refcount above 0 means the decrement did not happen, and it releases the reference). A
 * block already back on a free list is never tracked: the reaper would free it twice.
 */
export function releaseOwned(h: u32): void {
  if (atomic.sub<i32>(<usize>h + B_REFS, 1) == 1) freeBlock(h);
  else untrack(h);
}

/** Count one message dropped as expired (by this instance). */
export function countExpired(): void {
  expiredCount++;
  expiredEver += 1;
}

// ctl word (u64) of every record: see registry.ts for the protocol.
export const PINS_MASK: u64 = (1 << 20) - 1;
export const DEAD: u64 = 1 << 20;
export const GEN_SHIFT: u64 = 21;
export const GEN_MASK: u64 = (1 << 23) - 1;
export const EPOCH_UNIT: u64 = 1 << 44;

/** Generation of a ctl word. */
@inline export function genOf(c: u64): u32 {
  return <u32>((c >> GEN_SHIFT) & GEN_MASK);
}

/**
 * Pin record `r` if it is alive and still generation `gen`: while pinned it cannot be
 * reclaimed. Fails (false) for a dead or reused record.
 */
export function pin(r: u32, gen: u32): bool {
  const a = <usize>r + R_CTL;
  while (true) {
    const c = atomic.load<u64>(a);
    if ((c & DEAD) != 0 || genOf(c) != gen) return false;
    if ((c & PINS_MASK) == PINS_MASK) return false; // absurdly many pins: refuse, never overflow
    if (atomic.cmpxchg<u64>(a, c, c + 1) == c) return true;
  }
}

/** Unpin: one atomic add that removes the pin and advances the epoch (the add wraps harmlessly). */
export function unpin(r: u32): void {
  atomic.add<u64>(<usize>r + R_CTL, EPOCH_UNIT - 1);
}

/** Set up an empty ring of `cap` slots in block `ring` (private: before publication). */
export function initRing(ring: u32, cap: u32): void {
  const base = <usize>ring + BLOCK_HDR;
  for (let i: u32 = 0; i < cap; i++) {
    store<u32>(base + <usize>i * 8, i);
    store<u32>(base + <usize>i * 8 + 4, 0);
  }
}

/** Ring slots for a channel of capacity `cap`. */
export function ringSlots(cap: u32): u32 {
  return cap < 2 ? 2 : cap;
}

/** Enqueue handle `h` on the ring of pinned channel `r`: true, or false when full. Wakes nobody (see `push`). */
export function ringPush(r: u32, h: u32): bool {
  const rec = <usize>r;
  const cap = <u64>load<u32>(rec, R_RSIZE);
  const small = load<u32>(rec, R_CAP) < 2;
  const base = <usize>load<u32>(rec, R_RING) + BLOCK_HDR;
  while (true) {
    const pos = atomic.load<u64>(rec + R_ENQ);
    if (small && pos - atomic.load<u64>(rec + R_DEQ) >= 1) return false;
    const slot = base + <usize>(pos % cap) * 8;
    const dif = <i32>(atomic.load<u32>(slot) - <u32>pos);
    if (dif == 0) {
      if (atomic.cmpxchg<u64>(rec + R_ENQ, pos, pos + 1) == pos) {
        // claimed: publish with no call and no loop in between (termination safety)
        atomic.store<u32>(slot + 4, h);
        atomic.store<u32>(slot, <u32>(pos + 1));
        return true;
      }
    } else if (dif < 0) {
      return false;
    }
  }
}

/**
 * Dequeue the oldest handle of the ring of pinned channel `r`, expired or not; 0 when empty.
 * When `dst` is not 0 the handle is also stored there inside the claim window (before any
 * call or loop back-edge): a lease slot that must own the message from the instant it
 * leaves the ring (leases.ts). Wakes nobody: the caller calls `roomMade(r)` once it recorded
 * the message (a drop-oldest pop that is followed by a push makes no room and wakes nobody).
 */
export function ringPop(r: u32, dst: usize): u32 {
  const rec = <usize>r;
  const cap = <u64>load<u32>(rec, R_RSIZE);
  const base = <usize>load<u32>(rec, R_RING) + BLOCK_HDR;
  while (true) {
    const pos = atomic.load<u64>(rec + R_DEQ);
    const slot = base + <usize>(pos % cap) * 8;
    const dif = <i32>(atomic.load<u32>(slot) - <u32>(pos + 1));
    if (dif == 0) {
      if (atomic.cmpxchg<u64>(rec + R_DEQ, pos, pos + 1) == pos) {
        // claimed: read and free the slot with no call and no loop in between
        const h = atomic.load<u32>(slot + 4);
        if (dst != 0) atomic.store<u32>(dst, h);
        atomic.store<u32>(slot, <u32>(pos + cap));
        return h;
      }
    } else if (dif < 0) {
      return 0;
    }
  }
}

/** Messages dropped as expired by the last `popLive` / `dropExpiredHead` of this instance. */
export let expiredCount: i32 = 0;
/** Messages dropped as expired by this instance since it started (for stats). */
export let expiredEver: f64 = 0;

/**
 * Dequeue the oldest message sent after `cutoff` (ms); older ones are released and counted
 * in `expiredCount`. 0 when none is left.
 */
export function popLive(r: u32, cutoff: f64): u32 {
  while (true) {
    const h = popRaw(r, recvSlot); // the receiver owns it from the pop on (tracked)
    if (h == 0) return 0;
    if (load<f64>(<usize>h, B_TIME) <= cutoff) {
      expiredCount++;
      expiredEver += 1;
      releaseOwned(h);
      continue;
    }
    return h;
  }
}

/**
 * Drop expired messages at the head of pinned channel `r` without taking a live one: peek
 * the head slot, and only claim it when its message is expired. (Reading the handle before
 * the claim is safe: a successful CAS proves the slot was not consumed meanwhile, so the
 * queue still owned that message and it was not freed.)
 */
export function dropExpiredHead(r: u32, cutoff: f64): void {
  // A stack's newest message is on top: once it expired, all below it did too.
  if (isLifo(r)) {
    const n = stackDropExpired(r, cutoff);
    expiredCount += n;
    expiredEver += <f64>n;
    return;
  }
  const rec = <usize>r;
  const cap = <u64>load<u32>(rec, R_RSIZE);
  const base = <usize>load<u32>(rec, R_RING) + BLOCK_HDR;
  while (true) {
    const pos = atomic.load<u64>(rec + R_DEQ);
    const slot = base + <usize>(pos % cap) * 8;
    if (<i32>(atomic.load<u32>(slot) - <u32>(pos + 1)) != 0) return;
    const h = atomic.load<u32>(slot + 4);
    if (load<f64>(<usize>h, B_TIME) > cutoff) return;
    if (atomic.cmpxchg<u64>(rec + R_DEQ, pos, pos + 1) == pos) {
      atomic.store<u32>(slot, <u32>(pos + cap));
      expiredCount++;
      expiredEver += 1;
      releaseBlock(h);
      if (sendersParked(r)) wakeSenders(r, ringDepth(r));
    }
  }
}

/** Messages queued on pinned channel `r` (redelivered ones included). */
export function depthOf(r: u32): u32 {
  if (isLifo(r)) return stackDepth(r);
  return ringDepth(r) + stackDepth(r);
}

/** Messages in the ring of pinned channel `r`. */
export function ringDepth(r: u32): u32 {
  const rec = <usize>r;
  const d = <i64>(atomic.load<u64>(rec + R_ENQ) - atomic.load<u64>(rec + R_DEQ));
  const cap = <i64>load<u32>(rec, R_CAP);
  return <u32>(d < 0 ? 0 : d > cap ? cap : d);
}
