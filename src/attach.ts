/**
 * `attachLayer`: join, from any thread, the bus whose `handle` another thread passed on.
 * A shared layer's handle gives a shared layer; a hybrid layer's handle (a shared handle
 * with a `hybrid` part) gives a hybrid layer on the same machine bus.
 *
 * @module
 */

import { HybridLayer, type HybridLayerHandle } from './layers/hybrid.js';
import { SharedLayer, type SharedLayerHandle } from './layers/shared.js';

/** Attach to the bus of a shared layer's `handle`, in this thread. */
export function attachLayer(handle: HybridLayerHandle): HybridLayer;
/** Attach to the bus of a shared layer's `handle`, in this thread. */
export function attachLayer(handle: SharedLayerHandle): SharedLayer;
export function attachLayer(handle: SharedLayerHandle | HybridLayerHandle): SharedLayer | HybridLayer {
  if (handle !== null && typeof handle === 'object' && 'hybrid' in handle && handle.hybrid !== undefined) {
    return HybridLayer.attach(handle);
  }
  return SharedLayer.attach(handle);
}
