/**
 * Inside a worker of a ringbus pool (`createPool` from `ringbus/pool`), or any worker
 * started with `workerData: workerData(layer, { ...fields })`: the bus, attached in this
 * thread, and the creator's fields.
 *
 * ```js
 * // task file run by the pool
 * import { workerLayer } from 'ringbus/worker';
 * export default async function ({ channel }) {
 *   const message = await workerLayer.receive(channel);
 *   await workerLayer.send('replies', { type: 'done', got: message });
 * }
 * ```
 *
 * The layer is attached when this module is first imported in a thread, so pool workers
 * whose tasks never import it never attach. In a plain worker, `attachLayer()` from
 * `ringbus` does the same without this module.
 *
 * @module
 */

import { isMainThread, workerData as threadData } from 'node:worker_threads';
import { attachLayer } from './attach.js';
import type { HybridLayer } from './layers/hybrid.js';
import type { SharedLayer } from './layers/shared.js';
import { HANDOFF_HINT, handleFrom, userFields } from './layers/shared/worker-data.js';

export { HANDLE_KEY, type BusWorkerData, type PoolWorkerData } from './layers/shared/worker-data.js';

function attachHere(): SharedLayer | HybridLayer {
  if (isMainThread) {
    throw new TypeError(`ringbus/worker is for worker threads (a pool's workers, or a Worker started with the bus); ${HANDOFF_HINT}`);
  }
  return attachLayer(handleFrom(threadData, "ringbus/worker (reading this thread's workerData)"));
}

/** The bus, attached in this worker thread (a hybrid layer when the bus is a hybrid one). */
export const workerLayer: SharedLayer | HybridLayer = attachHere();

/**
 * The creator's own fields of this thread's `workerData` (the `workerData` option given to
 * `createPool`, or the `fields` of `workerData(layer, fields)`), without the bus handle.
 */
export const workerData: Record<string, unknown> | undefined = userFields(threadData);
