/**
 * The instance slots of a bus (assembly/leases.ts): claiming one, reclaiming the slots of
 * threads that stopped running when they run short, and the errors of a bus's lifetime.
 *
 * @module
 */

import { OutOfSharedMemory } from '../../errors.js';
import { INSTANCE_SLOTS, type CoreExports } from '../../wasm/core.js';
import { livenessTicks } from './liveness.js';

/** Why an instance of a bus that its creating layer closed is closed. */
export const SHUT_DOWN = 'the bus was shut down: the layer that created it was closed';

/** Why an instance whose slot was reclaimed as stale is closed. */
export function SLOT_LOST(livenessTimeoutMs: number): string {
  return (
    `this layer lost its instance slot: its thread ran neither its event loop nor a ringbus call for ` +
    `livenessTimeout (${livenessTimeoutMs} ms) while the bus's instance slots ran short; its leases were redelivered`
  );
}

/** Slots in use from which the creator's observer starts marking and reclaiming (7/8). */
const SCARCE = INSTANCE_SLOTS - INSTANCE_SLOTS / 8;

/** The error when all `slots` instance slots of a bus are taken. */
export function instancesExhausted(slots: number, livenessTimeoutMs: number): OutOfSharedMemory {
  return new OutOfSharedMemory(
    'instances',
    `all ${slots} instance slots of this bus are taken (one per layer instance that is attached and not ` +
      `closed, over all threads); close() the layers you no longer use, and let the thread that created a ` +
      `Worker call layer.watch(worker) (createPool does it): a slot comes back when its layer is closed or ` +
      `collected, or its thread exits by itself or is watched; the slot of a thread terminated unwatched is ` +
      `reclaimed once it has not run for livenessTimeout (${livenessTimeoutMs} ms) after slots ran short`,
  );
}

function sweepStale(x: CoreExports, livenessTimeoutMs: number, me: number): number {
  const now = Date.now();
  return x.instanceSweepStale(livenessTicks(now), Math.ceil(livenessTimeoutMs / 100), now, me, 0, 0);
}

/**
 * Claim an instance slot for thread `thread`; when none is free, reclaim stale ones (marking
 * the others) and try again. 0 when there is still none and the slot is not `required`.
 */
export function claimInstance(x: CoreExports, thread: number, livenessTimeoutMs: number, required: boolean): number {
  let id = x.instanceClaim(thread);
  if (id === 0) {
    sweepStale(x, livenessTimeoutMs, 0);
    id = x.instanceClaim(thread);
  }
  if (id === 0 && required) throw instancesExhausted(INSTANCE_SLOTS, livenessTimeoutMs);
  return id;
}

/**
 * The creating layer's observer: every half `livenessTimeout`, while more than 7/8 of the
 * slots are in use, mark them suspect and reclaim those that stayed so (their threads were
 * terminated unwatched, or are stalled). Stops when the layer closes or is collected.
 */
export function observeSlots(x: CoreExports, livenessTimeoutMs: number, layer: WeakRef<{ readonly closed: boolean; readonly instanceId: number }>): void {
  const timer = setInterval(() => {
    const l = layer.deref();
    if (l === undefined || l.closed) {
      clearInterval(timer);
      return;
    }
    if (x.instancesLive() >= SCARCE) sweepStale(x, livenessTimeoutMs, l.instanceId);
  }, Math.max(50, Math.floor(livenessTimeoutMs / 2)));
  timer.unref?.();
}
