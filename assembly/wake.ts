// Wake-ups of a channel's parked waiters, with tokens and hysteresis.
//
// Two kinds of waiters park on a channel record: receivers (on the wake word R_WAKE, counted
// in R_PARKED) and senders waiting for room under the full policy 'wait' (on R_SPACE,
// counted in R_SPARKED). Next to each counter sits a token word (R_ARMED, R_SARMED, at
// ARM_DELTA bytes after the counter): the number of parks not notified yet.
//
// Algorithm ("one notify per park"): a waiter reads the wake word, counts itself in
// (`arm`: counter + 1, then tokens + 1, capped at the counter), re-checks the queue, and only
// then waits for the word to change. A producer (for receivers: a push; for senders: a pop
// or a drop) that finds the counter > 0 takes one token by CAS; only the one that got a token
// bumps the word and notifies one waiter. So while a receiver stays parked, the pushes after
// the first one pay one load each, not a notify each (which costs the notifier ~11 us when it
// wakes a sleeping thread), and the notifies of a run never exceed its parks.
//
// Hysteresis for senders: a pop wakes a parked sender only when the channel's depth is at or
// below the low-water mark, half its capacity. A sender woken there finds room for about
// half a capacity of sends before it parks again, instead of one send per wake-up.
//
// Invariant (no lost wake-up): tokens >= parked waiters that were not notified since they
// armed. `arm` keeps it (tokens + 1, and the cap is at least the number of waiters parked);
// a token is consumed only by a notify. Tokens are interchangeable: a notify may wake another
// waiter than the one that armed, and then the remaining token wakes the next. SC atomics
// order "publish, read counter/tokens" against "arm, re-check": either the waiter's re-check
// sees the message (room), or the producer sees its token. A waiter that leaves without a
// notify (its re-check succeeded, timeout, abort) leaves its token: at worst one notify that
// wakes nobody later; never a missed one. A sender parked above the low-water mark, on a
// channel whose consumers stopped, is woken by nothing: its wait ends at its timeout with one
// last attempt (src/layers/shared/batch.ts, waitForRoom), so it never fails while there is
// room. A parked sender also takes room only at the mark (its re-checks and wake-ups), so
// every park, slept or not, is followed by about half a capacity of sends.
//
// A thread killed mid-operation: the counters are undone by the reaper (leases.ts); tokens
// left behind only cost spurious notifies, at most one each.
//
// Termination safety of the callers: these functions loop (`takeToken`, `arm`, and the depth
// read the caller passes to `wakeSenders`), and V8 can stop a thread at any loop back-edge or
// function entry. So no queue operation wakes from inside its claim/publish window: pushes and
// pops (queue.ts, stack.ts) wake nobody, and their callers wake only after the message was
// handed over (a sender's `untrack`, a popped handle stored in its in-hand word or lease
// slot, a requeued lease slot freed). A producer killed between its hand-over and its wake
// only leaves its token unconsumed: a parked receiver (sender) is then woken by the next
// publish (room) on that channel, or ends its wait at its timeout: a delay, never a lost,
// duplicated or freed-while-queued message.

import { R_ARMED, R_CAP, R_PARKED, R_SARMED, R_SPACE, R_SPARKED, R_WAKE } from './layout';

/** Notifies issued by this instance (for stats). */
export let notifyCount: f64 = 0;

/** Take one token of word `armed` (true) or find none (false). */
@inline function takeToken(armed: usize): bool {
  while (true) {
    const a = atomic.load<i32>(armed);
    if (a <= 0) return false;
    if (atomic.cmpxchg<i32>(armed, a, a - 1) == a) return true;
  }
}

/**
 * Add a token to the token word of parked counter `count` (a record's R_PARKED or R_SPARKED),
 * after the waiter counted itself in there. Capped at the counter: no more tokens than waiters.
 */
export function arm(count: usize): void {
  const armed = count + (R_ARMED - R_PARKED);
  while (true) {
    const a = atomic.load<i32>(armed);
    const p = atomic.load<i32>(count);
    const n = a + 1 > p ? p : a + 1;
    if (atomic.cmpxchg<i32>(armed, a, n) == a) return;
  }
}

/** A message was published on channel `r`: wake one parked receiver if one is owed a notify. */
export function wakeReceivers(r: u32): void {
  const rec = <usize>r;
  if (atomic.load<i32>(rec + R_PARKED) <= 0) return;
  if (!takeToken(rec + R_ARMED)) return;
  atomic.add<i32>(rec + R_WAKE, 1);
  atomic.notify(rec + R_WAKE, 1);
  notifyCount += 1;
}

/** True when a sender is parked on channel `r` (the caller then computes the depth). */
@inline export function sendersParked(r: u32): bool {
  return atomic.load<i32>(<usize>r + R_SPARKED) > 0;
}

/** Room was made on channel `r`, now `depth` deep: wake one parked sender at the low-water mark. */
export function wakeSenders(r: u32, depth: u32): void {
  const rec = <usize>r;
  if (depth > load<u32>(rec, R_CAP) >> 1) return;
  if (!takeToken(rec + R_SARMED)) return;
  atomic.add<i32>(rec + R_SPACE, 1);
  atomic.notify(rec + R_SPACE, 1);
  notifyCount += 1;
}
