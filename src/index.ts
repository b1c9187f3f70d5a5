/**
 * ringbus: an embedded message bus for Node.js worker threads with the channel-layer
 * semantics of Django Channels.
 *
 * ```ts
 * import { createLayer } from 'ringbus';
 * const layer = await createLayer();            // the shared-memory bus
 * await layer.send('chat', { type: 'chat.message', text: 'hi' });
 * const message = await layer.receive('chat');
 * ```
 *
 * @module
 */

import { quote } from './quote.js';
import { BackendUnavailable } from './errors.js';
import { MemoryLayer, type MemoryLayerOptions } from './layers/memory.js';
import type { ChannelLayer } from './layer.js';
import { RedisLayer, type RedisLayerOptions } from './layers/redis.js';
import { SharedLayer, type SharedLayerOptions } from './layers/shared.js';
import { HybridLayer, type HybridLayerOptions } from './layers/hybrid.js';

export * from './errors.js';
export type {
  Borrowed,
  ChannelCapacity,
  ChannelLayer,
  CommonLayerOptions,
  DeliveryMode,
  FullPolicy,
  LayerStats,
  Lease,
  ListenOptions,
  Message,
  MessageScalar,
  MessageShape,
  MessageValue,
  MessageValueShape,
  PatternMap,
  QueueOrder,
  ReceiveManyOptions,
  ReceiveOptions,
  SendOptions,
  TradeoffOptions,
  WaitOptions,
  WaitStrategy,
} from './layer.js';
export { MAX_BORROWS } from './layer.js';
export { MemoryLayer, type MemoryLayerOptions } from './layers/memory.js';
export { encode, decode, MAX_MESSAGE_DEPTH } from './codec.js';
export type { Bytes, Count, Milliseconds, Seconds } from './options.js';
export type { DropReason, DroppedEvent, ExpiredEvent, LayerEvent, LayerEventListener, RedeliveredEvent } from './events.js';
export { RedisLayer } from './layers/redis.js';
export type { RedisLayerOptions, RedisHost, RedisServerHost, RedisSentinelHost, SentinelAddress } from './redis/options.js';
export { SharedLayer } from './layers/shared.js';
export { attachLayer } from './attach.js';
export { HybridLayer } from './layers/hybrid.js';
export type { HybridLayerHandle, HybridLayerOptions } from './layers/hybrid.js';
export type { SharedLayerHandle, SharedLayerOptions, SharedMemoryStats, StructureTableStats } from './layers/shared.js';
export type { LeaseSettler, WatchableWorker } from './layers/shared.js';
export { workerData, HANDLE_KEY, type BusWorkerData } from './layers/shared/worker-data.js';
export type { WasmMemory, WasmModule } from './wasm/api.js';

/** Options of `createLayer`: `backend` picks the implementation, the rest configure it. */
export type LayerOptions =
  | (MemoryBackend & MemoryLayerOptions)
  | (SharedBackend & SharedLayerOptions)
  | (RedisBackend & RedisLayerOptions)
  | (HybridBackend & HybridLayerOptions);

/** Selects the single-thread reference layer. */
export interface MemoryBackend {
  /** `'memory'`: one thread, plain maps; the semantic oracle. */
  backend: 'memory';
}

/** Selects the shared-memory bus (the default). */
export interface SharedBackend {
  /** `'shared'` (or omitted): the lock-free bus in one shared WebAssembly memory. */
  backend?: 'shared';
}

/** Selects the Redis backend. */
export interface RedisBackend {
  /** `'redis'`: wire-compatible with Python's channels_redis 4.x. */
  backend: 'redis';
}

/** Selects the hybrid backend. */
export interface HybridBackend {
  /** `'hybrid'`: shared memory between the threads of a machine, Redis (channels_redis format) between machines. */
  backend: 'hybrid';
}

/** The backends `createLayer` knows. */
export type BackendName = 'memory' | 'shared' | 'redis' | 'hybrid';

/**
 * Create a channel layer.
 *
 * - `backend: 'shared'` (the default): the lock-free shared-memory bus; pass `layer.handle`
 *   to worker threads and call `attachLayer` there.
 * - `backend: 'memory'`: the single-thread reference layer.
 * - `backend: 'redis'`: Redis, wire-compatible with Python's channels_redis.
 * - `backend: 'hybrid'`: one shared-memory bus per machine (workers attach as to a shared
 *   layer), machines and Django joined through Redis in channels_redis' format.
 *
 * Rejects with `TypeError` for an unknown backend or a bad option.
 */
export async function createLayer(options?: SharedBackend & SharedLayerOptions): Promise<SharedLayer>;
export async function createLayer(options: MemoryBackend & MemoryLayerOptions): Promise<MemoryLayer>;
export async function createLayer(options: RedisBackend & RedisLayerOptions): Promise<RedisLayer>;
export async function createLayer(options: HybridBackend & HybridLayerOptions): Promise<HybridLayer>;
export async function createLayer(options: LayerOptions): Promise<ChannelLayer>;
export async function createLayer(options: LayerOptions = {}): Promise<ChannelLayer> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`invalid options for createLayer: ${quote(options)}; expected an object`);
  }
  const { backend = 'shared', ...rest } = options as { backend?: unknown } & Record<string, unknown>;
  switch (backend) {
    case 'memory':
      return new MemoryLayer(rest as MemoryLayerOptions);
    case 'shared':
      return SharedLayer.create(rest as SharedLayerOptions);
    case 'redis':
      return RedisLayer.create(rest as RedisLayerOptions);
    case 'hybrid':
      return HybridLayer.create(rest as HybridLayerOptions);
    default:
      throw new TypeError(`invalid option backend: ${JSON.stringify(backend)}; expected 'shared', 'memory', 'redis' or 'hybrid'`);
  }
}
