/**
 * `attachLayer`: join, from any thread, the bus whose `handle` another thread passed on.
 * A shared layer's handle gives a shared layer; a hybrid layer's handle (a shared handle
 * with a `hybrid` part) gives a hybrid layer on the same machine bus. What it accepts (a
 * handle, `{ ringbus: handle, ... }`, a layer, nothing in a worker) is read as for the shared
 * layer (src/layers/shared/worker-data.ts).
 *
 * @module
 */

import { isMainThread, workerData as threadWorkerData } from 'node:worker_threads';
import { HybridLayer, type HybridLayerHandle } from './layers/hybrid.js';
import { SharedLayer, attachLayer as attachShared, type SharedLayerHandle } from './layers/shared.js';
import { handleFrom, type BusWorkerData } from './layers/shared/worker-data.js';

function isHybridHandle(handle: SharedLayerHandle): handle is HybridLayerHandle {
  const hybrid = (handle as Partial<HybridLayerHandle>).hybrid;
  return hybrid !== undefined && hybrid !== null;
}

/**
 * Attach, in this thread, to the bus of a hybrid layer: its `handle`, the layer itself, or
 * the `workerData` made for it.
 */
export function attachLayer(source: HybridLayerHandle | HybridLayer | BusWorkerData & { readonly ringbus: HybridLayerHandle }): HybridLayer;
/**
 * Attach, in this thread, to the bus of `source`: a shared layer's `handle` (from
 * `workerData` or a `postMessage`), `{ ringbus: handle, ... }`, or a shared layer of this
 * thread; with no argument, the bus in this worker thread's `workerData` (a hybrid layer
 * when that bus is a hybrid one).
 *
 * Throws `TypeError` for anything else (a memory or Redis layer, an object without a
 * handle), `LayoutMismatch` for a handle of an incompatible build or a foreign memory,
 * or a handle whose bus-wide options were edited (the bus's options are read from its shared
 * memory; only `wait` and `spinBudget` may differ per instance); `LayerClosed` when the bus
 * was shut down (its creating layer closed); `OutOfSharedMemory` (region `'instances'`) when
 * all instance slots are taken under at-least-once delivery.
 */
export function attachLayer(source?: SharedLayerHandle | BusWorkerData | SharedLayer): SharedLayer;
export function attachLayer(source?: unknown): SharedLayer | HybridLayer {
  if (source === undefined && isMainThread) return attachShared(); // its TypeError: nothing to read here
  const handle =
    source === undefined
      ? handleFrom(threadWorkerData, 'attachLayer() (reading workerData)')
      : handleFrom(source, 'attachLayer');
  return isHybridHandle(handle) ? HybridLayer.attach(handle) : SharedLayer.attach(handle);
}
