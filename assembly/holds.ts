// Instance-held pins: a layer instance keeps ONE pin on each of its hot channels instead of
// pinning and unpinning the record (two CASes on its ctl word, a cache line every thread
// using the channel writes) around every send and receive.
//
// Algorithm: each instance slot (leases.ts) ends with a hold table of HOLD_ENTRIES words
// (part of the instance table, which is allocated with the bus: attaching still costs no
// shared memory). An entry is 0 or the address of a record this instance holds a pin on.
// `holdPin` pins (queue.ts `pin`: alive and of the cached generation) and records the pin in
// the entry; `dropHold` clears the entry and unpins. While held, the record cannot be
// reclaimed (a reclaim needs pins == 0), so the JS side pushes and pops on it directly
// (`pushPinned` / `popPinned`), with no ctl traffic at all. The JS side drops a hold when the
// channel went cold (unused for a whole tick, src/layers/shared/holds.ts), before its full
// `reclaim()` and a relief step, when another instance's `reclaim()` asks (the hold-release
// request word), and at close (`instanceFree` drops what is left).

// Invariants: an entry is non-zero exactly while the pin it stands for is in effect (set
// right after the pin's CAS, cleared right before the unpin, no call or loop in between), so
// the reaper of a dead instance (`holdsRelease` from `instanceFree`) undoes exactly the pins
// the instance held, once each. Only the owning instance writes its entries while it lives;
// the reaper touches them only after the owner is known dead.
//
// Termination safety: `holdPin` cannot be stopped between the pin and the store (the pin's
// successful CAS returns straight into the store: no function entry, no back-edge), nor
// `dropHold` between the clear and the unpin. A reaper killed in `holdsRelease` leaves the
// entries it did not reach set, and the slot live (`instanceFree` clears the live word last):
// at worst those pins stay and their channels are never reclaimed, never a pin dropped twice.

import { R_CTL } from './layout';
import { EPOCH_UNIT, pin } from './queue';

/** Offset of the hold table in an instance slot. */
export const I_HOLDS: usize = 36;
/** Entries of a hold table (the rest of the 64-byte slot). */
export const HOLD_ENTRIES: u32 = 7;

/** Empty the hold table of the slot at `slot` (a fresh claim: a freed slot has none set). */
export function holdsReset(slot: usize): void {
  for (let i: u32 = 0; i < HOLD_ENTRIES; i++) atomic.store<u32>(slot + I_HOLDS + <usize>i * 4, 0);
}

/** Address of the first entry of the hold table of the slot at `slot`. */
export function holdsOf(slot: usize): u32 {
  return <u32>(slot + I_HOLDS);
}

/** Pin (r, gen) and record the pin in hold entry `entry` (which is 0): 1 held, 0 stale. */
export function holdPin(r: u32, gen: u32, entry: usize): i32 {
  if (!pin(r, gen)) return 0;
  atomic.store<u32>(entry, r);
  return 1;
}

/** Drop the pin recorded in hold entry `entry` (if any). */
export function dropHold(entry: usize): void {
  const r = atomic.load<u32>(entry);
  if (r == 0) return;
  atomic.store<u32>(entry, 0);
  atomic.add<u64>(<usize>r + R_CTL, EPOCH_UNIT - 1); // unpin (queue.ts), inlined: no call after the clear
}

/** Drop every hold of the slot at `slot` (close, or the reaper). */
export function holdsRelease(slot: usize): void {
  for (let i: u32 = 0; i < HOLD_ENTRIES; i++) dropHold(slot + I_HOLDS + <usize>i * 4);
}
