// Per-channel stack of message handles: the whole queue of a LIFO channel, and the
// redelivery lane of a FIFO channel (messages given back by `nack`, an expired lease or a dead
// lease holder go back to the HEAD of their channel: the lane is checked before the ring).
//
// Algorithm: a Treiber stack (R. K. Treiber, 1986) of small nodes. The head is a TAGGED 64-bit
// word in the channel record (tag << 32 | node address); every successful push or pop bumps
// the tag, so a pop that read head A, lost the CPU while A was popped, freed, reused and pushed
// again (ABA) fails its CAS instead of installing a stale `next`. A node is a class-0 arena
// block: [next][handle][deliveries][depth]. The handle is not linked intrusively through the
// message block, because after groupSend one message block sits in several channels at once.
//
// Capacity without a separate counter: each node records the stack depth it made (the depth
// of the node below + 1), written before the node is published and never changed while it is
// in the stack. A push reads the head, then the top node's depth, refuses when depth >=
// capacity, and CASes. A successful CAS proves the head did not move since it was read, so
// the depth read was the depth of the stack at that moment: the capacity check is exact.
// A refusal is only reported after re-reading an unchanged head (a stale top node may have
// been reused meanwhile, with any depth in it).
//
// Invariants: the nodes reachable from the head form a chain of strictly decreasing depth down
// to 1; a node is in at most one stack; a popped node belongs to its popper alone, which reads
// its handle and deliveries and only then frees it. Reading a node that was popped and freed
// concurrently is harmless: arena memory is never unmapped, and the CAS that would act on the
// stale read fails because the tag moved.
//
// Termination safety (V8 stops a thread only at a function entry or a loop back-edge): a push
// or a pop takes effect by one CAS; a thread killed before it leaves the stack untouched (its
// private node leaks, 32 bytes). After a successful pop CAS, `stackPop` stores the popped
// handle at the caller's `dst` (the receiver's in-hand word, a lease slot) before any call or
// back-edge, so a popped handle is never lost between the stack and its new owner. Neither
// push nor pop wakes anybody (wake.ts loops): the callers wake parked waiters only after they
// handed the message over (queue.ts `popRaw`, index.ts `send`, leases.ts), never inside the
// window between the CAS and that hand-over.

import { allocBlock, releaseBlock } from './arena';
import { BLOCK_HDR, B_TIME, H_END, R_TOP, hdr } from './layout';
import { sendersParked, wakeSenders } from './wake';

const N_NEXT: usize = BLOCK_HDR;
const N_HANDLE: usize = BLOCK_HDR + 4;
const N_DELIV: usize = BLOCK_HDR + 8;
const N_DEPTH: usize = BLOCK_HDR + 12;

/** Handle stored in node `n`. */
@inline export function nodeHandle(n: u32): u32 {
  return load<u32>(<usize>n + N_HANDLE);
}

/** Deliveries so far of the message in node `n` (0: never delivered). */
@inline export function nodeDeliveries(n: u32): u32 {
  return load<u32>(<usize>n + N_DELIV);
}

/**
 * Push handle `h` (delivered `deliveries` times so far) on the stack of pinned channel `r`.
 * `cap` 0: no capacity check (redelivery). Returns 1, 0 when the stack holds `cap`, -1 when
 * the arena has no node left. Wakes nobody: after handing the message over (untrack, lease
 * slot freed) the caller calls `wakeReceivers(r)` (wake.ts).
 */
export function stackPush(r: u32, h: u32, deliveries: u32, cap: u32): i32 {
  const head = <usize>r + R_TOP;
  const n = allocBlock(16);
  if (n == 0) return -1;
  store<u32>(<usize>n + N_HANDLE, h);
  store<u32>(<usize>n + N_DELIV, deliveries);
  while (true) {
    const c = atomic.load<u64>(head);
    const top = <u32>c;
    const depth: u32 = top == 0 ? 0 : atomic.load<u32>(<usize>top + N_DEPTH);
    if (cap != 0 && depth >= cap) {
      if (atomic.load<u64>(head) != c) continue;
      releaseNode(n);
      return 0;
    }
    atomic.store<u32>(<usize>n + N_NEXT, top);
    atomic.store<u32>(<usize>n + N_DEPTH, depth + 1);
    if (atomic.cmpxchg<u64>(head, c, (((c >> 32) + 1) << 32) | <u64>n) == c) return 1;
  }
}

/**
 * Pop the top node of pinned channel `r`'s stack (0 when empty). The caller owns the node:
 * it reads `nodeHandle` / `nodeDeliveries`, then frees it with `releaseNode`. When `dst` is
 * not 0 the handle is stored there right after the CAS, before any call or back-edge. Wakes
 * nobody: the caller wakes parked senders once it recorded the message (queue.ts `roomMade`).
 */
export function stackPop(r: u32, dst: usize = 0): u32 {
  const head = <usize>r + R_TOP;
  while (true) {
    const c = atomic.load<u64>(head);
    const top = <u32>c;
    if (top == 0) return 0;
    const next = atomic.load<u32>(<usize>top + N_NEXT);
    if (atomic.cmpxchg<u64>(head, c, (((c >> 32) + 1) << 32) | <u64>next) == c) {
      // popped: hand the handle over with no call and no loop in between (termination safety)
      if (dst != 0) atomic.store<u32>(dst, load<u32>(<usize>top + N_HANDLE));
      return top;
    }
  }
}

/** Free a node (not its message: whoever popped the node owns that reference now). */
export function releaseNode(n: u32): void {
  releaseBlock(n);
}

/** Messages in pinned channel `r`'s stack (exact when the head did not move while reading). */
export function stackDepth(r: u32): u32 {
  const head = <usize>r + R_TOP;
  while (true) {
    const c = atomic.load<u64>(head);
    const top = <u32>c;
    if (top == 0) return 0;
    const d = atomic.load<u32>(<usize>top + N_DEPTH);
    if (atomic.load<u64>(head) == c) return d;
  }
}

/** True when the stack of channel `r` is empty. */
@inline export function stackEmpty(r: u32): bool {
  return <u32>atomic.load<u64>(<usize>r + R_TOP) == 0;
}

/**
 * Drop expired messages from the top of pinned LIFO channel `r`: while the newest message
 * was sent at or before `cutoff` (so every message below it too), pop and release it.
 * Returns how many were dropped. The top's handle is read before the CAS that pops it (a
 * stale read is only acted on if the CAS proves the node was still the top, as in the
 * ring's dropExpiredHead); a handle read from a node reused meanwhile is bounds-checked
 * before its send time is read.
 */
export function stackDropExpired(r: u32, cutoff: f64): i32 {
  const head = <usize>r + R_TOP;
  const end = load<u32>(hdr(H_END));
  let dropped: i32 = 0;
  while (true) {
    const c = atomic.load<u64>(head);
    const top = <u32>c;
    if (top == 0) return dropped;
    const h = atomic.load<u32>(<usize>top + N_HANDLE);
    const next = atomic.load<u32>(<usize>top + N_NEXT);
    if (h < <u32>BLOCK_HDR || h > end - <u32>BLOCK_HDR) continue; // stale read: retry
    if (load<f64>(<usize>h, B_TIME) > cutoff) {
      if (atomic.load<u64>(head) == c) return dropped;
      continue;
    }
    if (atomic.cmpxchg<u64>(head, c, (((c >> 32) + 1) << 32) | <u64>next) == c) {
      releaseNode(top);
      releaseBlock(h);
      dropped++;
      if (sendersParked(r)) wakeSenders(r, stackDepth(r));
    }
  }
}
