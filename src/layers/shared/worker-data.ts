/**
 * The shape of the `workerData` that `createPool` gives piscina's workers (shared by
 * `ringbus/pool` and `ringbus/worker`; kept apart so that importing the pool never attaches).
 *
 * @module
 */

import type { SharedLayerHandle } from './options.js';

/** The key under which `createPool` puts the bus handle in `workerData`. */
export const HANDLE_KEY = 'ringbus';
/** The key under which `createPool` keeps the caller's own `workerData`. */
export const USER_DATA_KEY = 'workerData';

/** What `createPool` passes as piscina's `workerData`. */
export interface PoolWorkerData {
  /** The bus to attach to. */
  [HANDLE_KEY]: SharedLayerHandle;
  /** The `workerData` option the caller gave `createPool`, untouched. */
  [USER_DATA_KEY]?: unknown;
}
