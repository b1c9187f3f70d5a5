// The lifetime of a bus: its options, fixed when it is created, and its shutdown.
//
// Bus options (header H_OPTS / H_OPTSLEN): the creating thread writes the bus-wide options
// (a UTF-8 JSON text built by src/layers/shared/bus-options.ts) into an arena block once,
// before the memory is shared, and records its address and length here. Every attach reads
// them back from this block, so an attached instance cannot disagree with the bus on
// capacities, policies, expiry or lease settings, whatever its handle says. The block is
// never written again and never freed (it lives as long as the bus).
//
// Shutdown (header H_CLOSED): closing the creating layer shuts the whole bus down. The
// creator sets the closed word (0 -> 1, once), then bumps and notifies the wake word and the
// space word of every channel in the registry. Every waiter re-reads the closed word after it
// read its wake word and before it parks (src/layers/shared/park.ts), so a waiter either sees
// the flag or parks on a wake word whose value the bump changes or whose notify reaches it:
// no waiter stays parked. A channel is pinned while anyone waits on it, so every parked
// waiter's record is in the registry during the walk. Every instance checks the word at the
// start of each operation and closes itself once it is set; attaching to a closed bus fails.
// Nothing else changes: messages still in the bus stay where they are until the memory goes.
//
// Killed mid-operation: `shutdown` interrupted after the flag leaves some channels unbumped;
// their waiters still see the flag at their next wake-up or timeout (the flag is what counts,
// the bump only shortens the wait). A record pinned by the walk and not unpinned leaks a pin.

import { H_CLOSED, H_RECORDS, H_OPTS, H_OPTSLEN, KIND_CHANNEL, R_KIND, R_SPACE, R_WAKE, hdr } from './layout';
import { unpin } from './queue';
import { pinSlot, slotCount } from './registry';

/** Record the bus options block (payload address, byte length). Called once by the creator. */
export function setBusOptions(addr: u32, len: u32): void {
  store<u32>(hdr(H_OPTSLEN), len);
  atomic.store<u32>(hdr(H_OPTS), addr);
}

/** Address of the bus options text (0: a bus created without one). */
export function busOptionsAddr(): u32 {
  return atomic.load<u32>(hdr(H_OPTS));
}

/** Byte length of the bus options text. */
export function busOptionsLen(): u32 {
  return load<u32>(hdr(H_OPTSLEN));
}

/**
 * Address of the header word holding the records structure table's address (0: none yet).
 * The table and its algorithm are JS (src/codec/records.ts); the core only reserves the word.
 */
export function recordsWord(): u32 {
  return <u32>hdr(H_RECORDS);
}

/** Address of the closed word (JS reads it with Atomics.load on every operation). */
export function closedWord(): u32 {
  return <u32>hdr(H_CLOSED);
}

/** 1 once the bus was shut down. */
export function busClosed(): u32 {
  return atomic.load<u32>(hdr(H_CLOSED));
}

/**
 * Shut the bus down: set the closed word, then wake every waiter of every channel. Returns
 * the number of channels woken (0 when the bus was already shut down).
 */
export function shutdown(): u32 {
  if (atomic.cmpxchg<u32>(hdr(H_CLOSED), 0, 1) != 0) return 0;
  const n = slotCount();
  let woken: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const r = pinSlot(i);
    if (r == 0) continue;
    if (load<u32>(<usize>r, R_KIND) == KIND_CHANNEL) {
      atomic.add<u32>(<usize>r + R_WAKE, 1);
      atomic.notify(<usize>r + R_WAKE, -1);
      atomic.add<u32>(<usize>r + R_SPACE, 1);
      atomic.notify(<usize>r + R_SPACE, -1);
      woken++;
    }
    unpin(r);
  }
  return woken;
}
