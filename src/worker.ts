/**
 * Inside a worker of a ringbus pool (`createPool` from `ringbus/pool`), or any worker
 * started with `workerData: { ringbus: layer.handle }`: the bus, attached in this thread.
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
 * whose tasks never import it never attach.
 *
 * @module
 */

import { isMainThread, workerData as threadData } from 'node:worker_threads';
import { attachLayer } from './attach.js';
import type { HybridLayer } from './layers/hybrid.js';
import type { SharedLayer, SharedLayerHandle } from './layers/shared.js';
import { HANDLE_KEY, USER_DATA_KEY, type PoolWorkerData } from './layers/shared/worker-data.js';

export { HANDLE_KEY, USER_DATA_KEY, type PoolWorkerData } from './layers/shared/worker-data.js';

function handleFrom(data: unknown): SharedLayerHandle {
  const handle = (data as Partial<PoolWorkerData> | null | undefined)?.[HANDLE_KEY];
  if (isMainThread || handle === undefined) {
    throw new Error(
      "ringbus/worker: no bus handle in this thread's workerData; import it in a worker of createPool() " +
        "(ringbus/pool), or start the worker with workerData: { ringbus: layer.handle }",
    );
  }
  return handle;
}

/** The bus, attached in this worker thread. */
export const workerLayer: SharedLayer | HybridLayer = attachLayer(handleFrom(threadData));

/** The `workerData` the pool's creator passed to `createPool` (the pool wraps it with the handle). */
export const workerData: unknown = (threadData as Partial<PoolWorkerData>)[USER_DATA_KEY];
