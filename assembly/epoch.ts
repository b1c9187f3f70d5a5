// Safe memory reclamation of channel and group records: quiescent-state-based reclamation
// (QSBR, as in RCU and epoch-based reclamation) with a global epoch and one announcement
// word per layer instance.
//
// Why records need it: every layer instance caches name -> (record address, generation) and
// pins a record by a CAS on its ctl word after checking generation and DEAD (queue.ts `pin`);
// lookups and sweeps read record addresses from registry slots and act on them a little later.
// Such a stale address is harmless while the memory is still a record (the check fails: the
// record is DEAD or has another generation), but a CAS into memory that became a message
// block would corrupt it. So the 512-byte block of a reclaimed record is given back to the
// arena only after a GRACE PERIOD: once no instance can still hold its address.
//
// Protocol:
//  - global epoch G (header word, written only when it advances); each instance slot of the
//    instance table (leases.ts) has an announcement word A.
//  - retire (registry.ts, after the record is DEAD and unlinked from its slot): read e = G,
//    store e in the record, push it on limbo list e % 3 (tagged Treiber stacks, arena.ts).
//  - announce (the JS layer, src/layers/shared/epoch.ts): at a point where the instance holds
//    no unpinned record address (between its synchronous operations: a timer callback, or the
//    public `reclaim()`), read G, drop the cached names whose record is DEAD or of another
//    generation, then store G in A. Records still cached are alive at that moment, so any
//    later retirement of one of them reads an epoch >= the announced one. A record address an
//    operation reads later from the registry was still in a slot then, so it too is retired
//    in an epoch >= the announced one. Across awaits, an operation holds only PINNED records,
//    which are never reclaimed.
//  - advance: G goes from g to g + 1 (one CAS) only when every live instance slot announces
//    g and no instance runs without a slot (counted in H_UNTRACKED). So every live instance
//    announces at least G - 1, and a record retired in epoch e is unreachable once G >= e + 2:
//    its retirer read e after unlinking it, every instance has since announced e + 1, and an
//    instance announcing e + 1 read G after it became e + 1, after the retirement.
//  - drain: pop records from the limbo lists and free those retired at e <= G - 2 (checked per
//    record against a fresh G, as G - e >= 2 in u32 arithmetic, so the check survives the wrap
//    of G past 2^32). A list's top is its youngest record: one found too young goes back and
//    the list waits (list (G - 2) % 3 holds only due records, the lists of epochs G - 1 and G
//    only young ones, so each list is drained whole once its epoch is due). At the wrap,
//    2^32 - 1 and 0 share list 0 (2^32 % 3 = 1): records of 2^32 - 1 then wait one epoch
//    longer under younger ones, never shorter.
//  - reuse: a new record may take any record in limbo at once, whatever its epoch: it stays a
//    record (type-stable), and its next life has generation + 1, so stale pins fail. So while
//    a grace period is held back, reclaimed records are still reused for records and memory is
//    bounded by the peak number of records. What holds grace periods back: an instance between
//    two announcements (up to the announcement interval); a thread whose event loop does not
//    run (a long synchronous task, a blocking Atomics.wait such as piscina's atomics 'sync'
//    between tasks), for as long as that lasts; and FOR GOOD, until the bus goes away: a
//    thread that died without being reaped (its slot stays live with its last announcement),
//    or one that died while it ran without a slot (H_UNTRACKED never comes back down).
//
// Cost per operation: none (announcements come from a timer and from reclaim). A thread killed
// while retiring or draining leaks at most that one record (its block stays held).
// Tested across threads by test/core/churn-soak.test.ts (clients come and go, stale names are
// sent to long after their records were reclaimed and their memory reused, every payload is
// checked, the accounting ends exactly at its start) and test/core/registry-race.test.ts; the
// wrap of the epoch by test/core/epoch-wrap.test.ts.

import { freeBlock, popTagged, pushTagged } from './arena';
import { H_EPOCH, H_INST, H_INSTCAP, H_LIMBO, H_RECFREE, H_RECTOTAL, H_UNTRACKED, R_RETIRED, hdr } from './layout';

/** Offset of the announcement word in an instance slot (leases.ts). */
export const I_EPOCH: usize = 24;
const ISLOT: usize = 64;

/** The current reclamation epoch. */
@inline export function currentEpoch(): u32 {
  return atomic.load<u32>(hdr(H_EPOCH));
}

/** Put unlinked (or never published) DEAD record `r` in limbo. */
export function retireRecord(r: u32): void {
  const e = currentEpoch();
  store<u32>(<usize>r + R_RETIRED, e);
  pushTagged(hdr(H_LIMBO) + <usize>(e % 3) * 8, r);
  atomic.add<i32>(hdr(H_RECFREE), 1);
}

/** A record from limbo to live again (any epoch: it stays a record), or 0. */
export function reuseRecord(): u32 {
  for (let k: u32 = 0; k < 3; k++) {
    const r = popTagged(hdr(H_LIMBO) + <usize>k * 8);
    if (r != 0) {
      atomic.sub<i32>(hdr(H_RECFREE), 1);
      return r;
    }
  }
  return 0;
}

/** Advance the epoch if every live instance announced it; true when this call advanced it. */
export function graceAdvance(): bool {
  const g = currentEpoch();
  if (atomic.load<i32>(hdr(H_UNTRACKED)) > 0) return false;
  const n = atomic.load<u32>(hdr(H_INSTCAP));
  const base = <usize>load<u32>(hdr(H_INST));
  for (let i: u32 = 0; i < n; i++) {
    const a = base + <usize>i * ISLOT;
    if ((atomic.load<u32>(a) & 1) != 0 && atomic.load<u32>(a + I_EPOCH) != g) return false; // bit 0: live (leases.ts)
  }
  return atomic.cmpxchg<u32>(hdr(H_EPOCH), g, g + 1) == g;
}

/** Free up to `max` records whose grace period is over; returns how many. */
export function drainLimbo(max: u32): u32 {
  let n: u32 = 0;
  for (let k: u32 = 0; k < 3; k++) {
    const head = hdr(H_LIMBO) + <usize>k * 8;
    while (n < max) {
      const r = popTagged(head);
      if (r == 0) break;
      // Due once G - e >= 2, in u32 arithmetic: G and e wrap past 2^32 together (G >= e
      // and G - e is small), while `e + 2 > G` would free a record of epoch 2^32 - 2 at once.
      if (currentEpoch() - load<u32>(<usize>r + R_RETIRED) < 2) {
        pushTagged(head, r); // too young: its list is not due yet (older ones below wait with it)
        break;
      }
      atomic.sub<i32>(hdr(H_RECFREE), 1);
      atomic.sub<i32>(hdr(H_RECTOTAL), 1);
      store<u32>(<usize>r, 0); // refcount word (it was the limbo link)
      freeBlock(r);
      n++;
    }
  }
  return n;
}

/** Records waiting in limbo. */
export function limboCount(): i32 {
  return atomic.load<i32>(hdr(H_RECFREE));
}

/** A layer instance runs without an instance slot (+1) or stopped (-1). */
export function untracked(delta: i32): void {
  atomic.add<i32>(hdr(H_UNTRACKED), delta);
}
