/**
 * Options of the shared backend: checking them, their defaults, and the handle that carries
 * them (with the compiled core and the shared memory) to other threads.
 *
 * @module
 */

import { quote } from '../../quote.js';
import { Unsupported } from '../../errors.js';
import { assertKnownOptions, type Bytes, type Count, type Milliseconds } from '../../options.js';
import {
  COMMON_OPTION_KEYS,
  TRADEOFF_OPTION_KEYS,
  assertOptionsObject,
  resolveCommonOptions,
  resolveTradeoffs,
  type CommonLayerOptions,
  type ResolvedCommonOptions,
  type ResolvedTradeoffs,
  type CoversKeys,
  type TradeoffOptions,
} from '../../layer.js';
import type { WasmMemory, WasmModule } from '../../wasm/api.js';

/** Options of the shared-memory backend (the default of `createLayer`). */
export interface SharedLayerOptions extends CommonLayerOptions, TradeoffOptions {
  /**
   * Size of the shared region in **bytes**: a multiple of 65536, from 2 MiB to 2 GiB. It is
   * allocated once and never grows. Default 64 MiB.
   */
  memory?: Bytes;
  /** Largest encoded message accepted, in **bytes**: at most a quarter of `memory`. Default 1 MiB (or that quarter). */
  maxMessageSize?: Bytes;
  /**
   * How many channel and group names can exist at the same time (empty, unused channels
   * are reclaimed and do not count). Default 131072.
   */
  maxNames?: Count;
  /**
   * At-least-once delivery: how many leases can be out at the same time over the whole bus
   * (a 32-byte slot each in the shared memory). Default 4096.
   */
  maxLeases?: Count;
  /**
   * Milliseconds after which the instance slot of a layer whose thread ran neither its event
   * loop nor a ringbus call may be reclaimed, once the bus's instance slots run short (the
   * route for workers terminated without `watch`; see "Lifetime of a bus" in docs/core.md).
   * A layer reclaimed while its thread was only stalled closes itself at its next call
   * (LayerClosed), and its leases are redelivered. Default 30000.
   */
  livenessTimeout?: Milliseconds;
  /**
   * Deliver received messages deeply frozen (`Object.freeze` on every object and array in
   * them). In exchange, a thread that receives one group send on several member channels
   * decodes it once and gets the SAME frozen value on each of them (a message holding bytes,
   * which cannot be frozen, is still decoded once per delivery). Mutating a received message
   * then throws in strict mode; copy it first (e.g. `structuredClone`) to change it.
   * Default false: every delivery is a fresh, mutable value of its own. May differ per
   * instance (like `wait`): set it in the options of the handle a thread attaches with.
   */
  frozenMessages?: boolean;
  /**
   * Encode the messages this instance sends as records: an object whose key list was seen
   * before travels as a structure id and its values, the key lists being kept in a table in
   * the bus's shared memory (see "Records" in docs/core.md). Every instance of the bus reads
   * records, whatever its own setting; records never leave the shared memory (Redis and
   * Python always get plain msgpack). Default false. May differ per instance.
   */
  records?: boolean;
}

/** Every option of the shared backend (unknown ones are refused). */
export const SHARED_OPTION_KEYS = [
  ...COMMON_OPTION_KEYS, ...TRADEOFF_OPTION_KEYS, 'memory', 'maxMessageSize', 'maxNames', 'maxLeases', 'livenessTimeout', 'frozenMessages', 'records',
] as const;
/** Fails to compile when an option of SharedLayerOptions is missing from SHARED_OPTION_KEYS. */
const sharedKeysComplete: CoversKeys<SharedLayerOptions, typeof SHARED_OPTION_KEYS> = true;
void sharedKeysComplete;

/**
 * What `layer.handle` holds: everything another thread needs to attach to the same bus.
 * Structured-cloneable: pass it in `workerData` or `postMessage`.
 */
export interface SharedLayerHandle {
  /** The compiled core (assembly/ -> build/core.wasm). */
  readonly module: WasmModule;
  /** The shared memory of the bus. */
  readonly memory: WasmMemory;
  /**
   * The options the bus was created with, for reference. An attach reads the bus-wide ones
   * from the bus's shared memory (and refuses a handle whose bus-wide options differ);
   * `wait` and `spinBudget` here apply to the attaching instance (they may differ per
   * instance). May be omitted.
   */
  readonly options: SharedLayerOptions;
}

/** Shared options with defaults applied and values checked. */
export interface ResolvedSharedOptions {
  common: ResolvedCommonOptions;
  tradeoffs: ResolvedTradeoffs;
  memoryBytes: number;
  maxMessageSize: number;
  maxNames: number;
  /** Registry buckets: a power of two with room for maxNames at a load of at most 4/7 (two-choice hashing into buckets of 7 holds that with a wide margin). */
  buckets: number;
  /** Lease slots (0 under at-most-once delivery: no table). */
  maxLeases: number;
  /** See {@link SharedLayerOptions.livenessTimeout}. */
  livenessTimeoutMs: number;
  /** Received messages are frozen and group sends decoded once per thread. */
  frozenMessages: boolean;
  /** This instance encodes what it sends as records (src/codec/records.ts). */
  records: boolean;
}

const MiB = 1024 * 1024;

function integerOption(name: string, value: unknown, min: number, max: number, rule = ''): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`invalid option ${name}: ${quote(value)}; it must be an integer from ${min} to ${max}${rule}`);
  }
  return value;
}

/**
 * Why the shared backend refuses `full: 'drop-oldest'` on a LIFO channel (at createLayer for
 * the layer-wide options, at the first use of a channel whose patterns combine them).
 */
export const LIFO_DROP_OLDEST =
  "the shared backend does not offer full: 'drop-oldest' on a channel with order: 'lifo' (a LIFO channel " +
  "is a lock-free stack, which reaches only its newest message, not the oldest one to evict); use full: " +
  "'reject' or 'wait' there, or order: 'fifo'";

/** Check `options` and apply the defaults. Throws TypeError / Unsupported. */
export function resolveSharedOptions(options: SharedLayerOptions): ResolvedSharedOptions {
  assertOptionsObject("createLayer({ backend: 'shared' })", options);
  assertKnownOptions("createLayer({ backend: 'shared' })", options, SHARED_OPTION_KEYS);
  const common = resolveCommonOptions(options);
  const tradeoffs = resolveTradeoffs(options);
  if ((options.order ?? 'fifo') === 'lifo' && (options.full ?? 'reject') === 'drop-oldest') {
    throw new Unsupported(LIFO_DROP_OLDEST);
  }
  const memoryBytes = integerOption('memory', options.memory ?? 64 * MiB, 2 * MiB, 2048 * MiB);
  if (memoryBytes % 65536 !== 0) {
    throw new TypeError(`invalid option memory: ${memoryBytes}; it must be a multiple of 65536 (a wasm page)`);
  }
  const maxMessageSize = integerOption(
    'maxMessageSize',
    options.maxMessageSize ?? Math.min(MiB, Math.floor(memoryBytes / 4)),
    1,
    Math.floor(memoryBytes / 4),
    ' (a quarter of the memory option)',
  );
  const maxNames = integerOption('maxNames', options.maxNames ?? 131072, 16, 1 << 22);
  let buckets = 2;
  while (buckets * 4 < maxNames) buckets *= 2;
  if (buckets * 32 > memoryBytes / 2) {
    throw new TypeError(
      `invalid option maxNames: ${maxNames}; its registry (${buckets * 32} bytes) would take over half of memory (${memoryBytes})`,
    );
  }
  const maxLeases =
    tradeoffs.delivery === 'at-least-once' ? integerOption('maxLeases', options.maxLeases ?? 4096, 1, 1 << 20) : 0;
  const livenessTimeoutMs = options.livenessTimeout ?? 30_000;
  if (typeof livenessTimeoutMs !== 'number' || !(livenessTimeoutMs >= 100 && livenessTimeoutMs <= 2 ** 31 - 1)) {
    throw new TypeError(
      `invalid option livenessTimeout: ${String(livenessTimeoutMs)}; it must be a number of milliseconds from 100 to 2147483647`,
    );
  }
  const frozenMessages = options.frozenMessages ?? false;
  if (typeof frozenMessages !== 'boolean') {
    throw new TypeError(`invalid option frozenMessages: ${String(frozenMessages)}; it must be true or false`);
  }
  const records = options.records ?? false;
  if (typeof records !== 'boolean') {
    throw new TypeError(`invalid option records: ${quote(records)}; it must be true or false`);
  }
  return { common, tradeoffs, memoryBytes, maxMessageSize, maxNames, buckets, maxLeases, livenessTimeoutMs, frozenMessages, records };
}
