/**
 * Giving back the instance slot of a layer that was never closed.
 *
 * Every shared-layer instance claims one of the bus's {@link INSTANCE_SLOTS} instance slots
 * (assembly/leases.ts: the owner id of its leases, the words that let a reaper clean up after
 * a thread killed mid-operation). `close()` gives it back. When nobody calls `close()`:
 *
 * - the thread exits by itself (its event loop ends, `process.exit()`, an uncaught
 *   exception): a `process.on('exit')` hook of that thread closes its open instances, so
 *   their leases go back to their channels at once and their slots are freed;
 * - the layer object is garbage-collected while its thread lives on: a FinalizationRegistry
 *   frees its slot and hands its leases back (no operation of it can be in flight: an
 *   operation in flight keeps the layer reachable);
 * - the thread is terminated (`worker.terminate()`, which runs no exit hook): the thread that
 *   created the Worker should `layer.watch(worker)` (pools do it), which reaps the thread's
 *   instances when the worker's `exit` event fires; unwatched, its slots are reclaimed by the
 *   liveness sweep once slots run short (shared/liveness.ts).
 *
 * @module
 */

import type { CoreExports } from '../../wasm/core.js';
import type { SlotLiveness } from './liveness.js';

/** What closing an instance at thread exit needs. */
export interface Closable {
  /** Close now: the synchronous part of `close()` frees the slot. */
  close(): Promise<void>;
}

/**
 * Open instances of this thread, closed when the thread exits, each with what freeing its
 * slot needs should the layer be collected before its finalizer gets to run.
 */
const open = new Map<WeakRef<Closable>, Held>();
let hooked = false;

function closeAllAtExit(): void {
  for (const [ref, held] of open) {
    const layer = ref.deref();
    if (layer !== undefined) {
      // close() does its shared-memory work synchronously (doClose has no await before it).
      layer.close().catch(() => {});
    } else {
      // Collected, but its finalizer is only queued: finalizers never run once the thread is
      // exiting, so free the slot here (the race that left 20 slots of a crashed worker taken).
      finalizer.unregister(ref);
      release(held);
    }
  }
  open.clear();
}

/** What the finalizer of a collected instance needs (never the layer itself). */
interface Held {
  x: CoreExports;
  instance: number;
  liveness: SlotLiveness | undefined;
  sweeper: { timer: ReturnType<typeof setInterval> | undefined };
  ref: WeakRef<Closable>;
}

/** Free the slot of a collected instance: its leases go back, its timers stop. */
function release(held: Held): void {
  if (held.sweeper.timer !== undefined) clearInterval(held.sweeper.timer);
  held.liveness?.stop();
  if (held.instance === 0) return;
  if (held.liveness !== undefined && !held.liveness.held()) {
    held.x.instanceDetach(); // reclaimed as stale meanwhile: the slot is somebody else's
    return;
  }
  try {
    // Its leases go back to their channels (no dead-letter check: the next nack or timeout
    // of a message past maxDeliveries moves it), then its slot is freed.
    held.x.leaseSweep(Date.now(), held.instance, 0, 0, held.instance);
  } finally {
    held.x.instanceFree(held.instance, 0);
  }
}

const finalizer = new FinalizationRegistry<Held>((held) => {
  open.delete(held.ref);
  release(held);
});

/**
 * Track `layer` (instance `instance` of core `x`) until `forget(token)`: close it when this
 * thread exits, free its slot if it is collected. `sweeper` holds the layer's lease-sweep
 * timer (it must not reference the layer). Returns the token for {@link forget}.
 */
export function track(
  layer: Closable,
  x: CoreExports,
  instance: number,
  liveness: SlotLiveness | undefined,
  sweeper: { timer: ReturnType<typeof setInterval> | undefined },
): WeakRef<Closable> {
  if (!hooked) {
    hooked = true;
    process.once('exit', closeAllAtExit);
  }
  const ref = new WeakRef(layer);
  const held: Held = { x, instance, liveness, sweeper, ref };
  open.set(ref, held);
  finalizer.register(layer, held, ref);
  return ref;
}

/** The layer of `token` was closed: stop tracking it. */
export function forget(token: WeakRef<Closable>): void {
  open.delete(token);
  finalizer.unregister(token);
}
