/**
 * A piscina pool whose workers share the bus: `createPool(layer, options)` passes the
 * layer's handle to every worker, and a task file gets the attached layer with
 * `import { workerLayer } from 'ringbus/worker'`.
 *
 * Default `atomics: 'disabled'`: piscina's own default (`'sync'`) parks an idle worker in a
 * blocking `Atomics.wait` between tasks, which freezes that worker's event loop, so anything a
 * task left running on the bus (a `listen` loop, a pending `receive`, timers of a wait) would
 * stall until the next task arrives. With `'disabled'` the worker's event loop keeps running
 * between tasks; pass `atomics` explicitly to choose otherwise.
 *
 * @module
 */

import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ChannelLayer } from './layer.js';
import type { SharedLayerHandle } from './layers/shared.js';
import { workerData as busWorkerData } from './layers/shared/worker-data.js';

/** Options of `createPool`: piscina's options (`filename`, `maxThreads`, ...). */
export type PoolOptions = NonNullable<ConstructorParameters<typeof Piscina>[0]>;

/**
 * A piscina pool whose workers are attached to the bus of `layer` (a shared layer from
 * `createLayer()` or `attachLayer()`). The caller's `workerData` (a plain object, or omitted)
 * reaches the workers as `workerData` exported by `ringbus/worker`; the pool adds the bus
 * handle next to its fields (`{ ringbus: layer.handle, ...workerData }`, see `workerData()`).
 */
export function createPool<T = unknown, R = unknown>(layer: ChannelLayer, options: PoolOptions = {}): Piscina<T, R> {
  const handle = (layer as ChannelLayer & { handle?: SharedLayerHandle }).handle;
  if (handle === undefined || handle === null || typeof handle !== 'object' || !('memory' in handle)) {
    throw new TypeError(
      'invalid layer for createPool: it has no shared-memory handle; use a layer of the shared backend ' +
        "(createLayer() or createLayer({ backend: 'shared' }))",
    );
  }
  const workerData = busWorkerData(handle, (options.workerData ?? {}) as object);
  const pool = new Piscina<T, R>({ atomics: 'disabled', ...options, workerData });
  const watcher = layer as ChannelLayer & { watch?: (worker: Worker) => Promise<number> };
  if (typeof watcher.watch === 'function') {
    // piscina announces each worker (its threadId as `id`) once it is up; the Worker itself,
    // whose 'exit' event says the thread is really gone, is in `pool.threads`.
    pool.on('workerCreate', (info: { id: number }) => {
      const worker = pool.threads.find((t) => t.threadId === info.id);
      if (worker !== undefined) void watcher.watch?.(worker);
    });
  }
  return pool;
}

export { Piscina };
