/**
 * The types of `ringbus/pool`, written here rather than taken from piscina's declarations, so
 * that a TypeScript consumer compiles against `ringbus/pool` without loading piscina's types
 * (under `module: node16` they fail to compile: they import piscina's package.json, which
 * needs `resolveJsonModule`). The runtime object is a real piscina pool.
 *
 * @module
 */

import type { ResourceLimits, Transferable, Worker } from 'node:worker_threads';

/**
 * Options of `createPool`: piscina's pool options, passed to piscina as they are, except
 * that `atomics` defaults to `'disabled'` and `workerData` travels next to the bus handle.
 */
export interface PoolOptions {
  /** The task file (a path or a `file:` URL string) whose default export runs each task. */
  filename?: string | null;
  /** The name of the exported function to run (default `'default'`). */
  name?: string;
  /** Workers kept alive when idle. Default: half the CPUs, at least 1. */
  minThreads?: number;
  /** Most workers at once. Default: one and a half times the CPUs. */
  maxThreads?: number;
  /** Milliseconds an idle worker above `minThreads` lives. Default 0. */
  idleTimeout?: number;
  /** Most queued tasks (`'auto'`: maxThreads squared); more are refused. Default unlimited. */
  maxQueue?: number | 'auto';
  /** Tasks one worker runs at the same time (async tasks). Default 1. */
  concurrentTasksPerWorker?: number;
  /**
   * How an idle worker waits for its next task. ringbus' default is `'disabled'` (the worker's
   * event loop keeps running between tasks, so listen loops and pending receives it started
   * go on); piscina's `'sync'` blocks the worker between tasks.
   */
  atomics?: 'sync' | 'async' | 'disabled';
  /** Resource limits of each worker (heap sizes in MiB, stack size in MiB). */
  resourceLimits?: ResourceLimits;
  /** `process.argv` additions of each worker. */
  argv?: string[];
  /** Node.js options of each worker. */
  execArgv?: string[];
  /** The environment of the workers (`process.env` copy, or SHARE_ENV). */
  env?: Record<string, string> | symbol;
  /**
   * Your fields for the workers (a plain object): a task file reads them as `workerData`
   * from `ringbus/worker`. The pool adds the bus handle next to them (`{ ringbus, ...fields }`).
   */
  workerData?: Record<string, unknown>;
  /** Worker niceness increment (Linux). Default 0. */
  niceIncrement?: number;
  /** Close file descriptors a worker left open when it exits. Default true. */
  trackUnmanagedFds?: boolean;
  /** Milliseconds `close()` waits for running tasks. Default 30000. */
  closeTimeout?: number;
  /** Record task timing histograms. Default true. */
  recordTiming?: boolean;
  /** Hand tasks out in strict FIFO order. Default false. */
  stricterFIFO?: boolean;
  /** Record per-worker histograms. Default false. */
  workerHistogram?: boolean;
}

/** Options of one `pool.run`. */
export interface PoolRunOptions {
  /** Objects moved, not copied, to the worker with the task. */
  transferList?: ReadonlyArray<Transferable>;
  /** Run this task with another task file. */
  filename?: string | null;
  /** Abort the task (it rejects; a running one ends its worker). */
  signal?: AbortSignal | null;
  /** Run this exported function instead of `name`. */
  name?: string | null;
}

/**
 * A piscina pool whose workers are attached to the bus (what `createPool` returns; the
 * object is a `Piscina` instance, typed here by the part ringbus documents).
 */
export interface Pool<T = unknown, R = unknown> {
  /** Run `task` in a worker: resolves with what the task file's function returned. */
  run(task: T, options?: PoolRunOptions): Promise<R>;
  /** Let running and queued tasks finish (or, with `force`, reject the queued ones), then end the workers. */
  close(options?: { force?: boolean }): Promise<void>;
  /** End the workers now; pending tasks reject. */
  destroy(): Promise<void>;
  /** The pool's workers. */
  readonly threads: Worker[];
  /** Tasks waiting for a worker. */
  readonly queueSize: number;
  /** Tasks completed so far. */
  readonly completed: number;
  /** Most workers at once. */
  readonly maxThreads: number;
  /** Workers kept alive when idle. */
  readonly minThreads: number;
  /** Share of time the workers were busy, 0 to 1. */
  readonly utilization: number;
  /**
   * Listen to the pool's events (piscina's: `'workerCreate'`, `'workerDestroy'`, `'error'`,
   * `'drain'`, `'needsDrain'`, `'message'`).
   */
  on(event: string, listener: (...args: any[]) => void): this;
  /** As `on`, for one event only. */
  once(event: string, listener: (...args: any[]) => void): this;
  /** Stop listening. */
  off(event: string, listener: (...args: any[]) => void): this;
}

/** A constructor of pools that do not share the bus (piscina's `Piscina` class). */
export interface PoolConstructor {
  /** A plain piscina pool with `options` (no bus handle is added; piscina's defaults apply). */
  new <T = unknown, R = unknown>(options?: PoolOptions): Pool<T, R>;
}
