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
 * TypeScript: this module's types do not depend on piscina's, so it compiles under
 * `module: node16` and `nodenext` alike, with `skipLibCheck` on or off.
 *
 * @module
 */

import type { Worker } from 'node:worker_threads';
import { Piscina as PiscinaClass } from 'piscina';
import type { ChannelLayer } from './layer.js';
import type { SharedLayerHandle } from './layers/shared.js';
import { describeValue, workerData as busWorkerData } from './layers/shared/worker-data.js';
import type { Pool, PoolConstructor, PoolOptions } from './pool-types.js';

export type { Pool, PoolConstructor, PoolOptions, PoolRunOptions } from './pool-types.js';

/**
 * A piscina pool whose workers are attached to the bus of `layer` (a shared layer from
 * `createLayer()` or `attachLayer()`). The caller's `workerData` (a plain object, or omitted)
 * reaches the workers as `workerData` exported by `ringbus/worker`; the pool adds the bus
 * handle next to its fields (`{ ringbus: layer.handle, ...workerData }`, see `workerData()`).
 *
 * Throws `TypeError` when `layer` has no shared-memory handle (a memory or Redis layer) or
 * `workerData` is not a plain object.
 */
export function createPool<T = unknown, R = unknown>(layer: ChannelLayer, options: PoolOptions = {}): Pool<T, R> {
  const handle = (layer as ChannelLayer & { handle?: SharedLayerHandle }).handle;
  if (handle === undefined || handle === null || typeof handle !== 'object' || !('memory' in handle)) {
    throw new TypeError(
      `invalid layer for createPool: ${describeValue(layer)} has no shared-memory handle; use a layer of the shared backend ` +
        "(createLayer() or createLayer({ backend: 'shared' }))",
    );
  }
  const workerData = busWorkerData(handle, options.workerData ?? {});
  const pool = new PiscinaClass<T, R>({ atomics: 'disabled', ...options, workerData } as ConstructorParameters<typeof PiscinaClass>[0]);
  const watcher = layer as ChannelLayer & { watch?: (worker: Worker) => Promise<number> };
  if (typeof watcher.watch === 'function') {
    // piscina announces each worker (its threadId as `id`) once it is up; the Worker itself,
    // whose 'exit' event says the thread is really gone, is in `pool.threads`.
    pool.on('workerCreate', (info: { id: number }) => {
      const worker = pool.threads.find((t) => t.threadId === info.id);
      if (worker !== undefined) void watcher.watch?.(worker);
    });
  }
  return pool as unknown as Pool<T, R>;
}

/**
 * piscina's `Piscina` class, for pools that do not share the bus. Its full types come from
 * the `piscina` package (`import { Piscina } from 'piscina'`); here it is typed as a
 * constructor of {@link Pool}.
 */
export const Piscina: PoolConstructor = PiscinaClass as unknown as PoolConstructor;
