/**
 * Options of the hybrid backend: which go to the machine's shared-memory bus, which to its
 * Redis connections, the hybrid's own (`localChannels`), and the refusals of knobs that
 * cannot hold across machines.
 *
 * @module
 */

import { Unsupported } from '../../errors.js';
import { assertOptionsObject, compilePatterns, quote, type CoversKeys, type PatternMap } from '../../layer.js';
import { assertKnownOptions } from '../../options.js';
import type { RedisLayerOptions } from '../../redis/options.js';
import type { SharedLayerHandle, SharedLayerOptions } from '../shared/options.js';

/**
 * Options of the hybrid backend (`createLayer({ backend: 'hybrid', hosts: [...] })`): those
 * of the shared backend (the machine's bus: `memory`, `maxNames`, `maxLeases`, the wait
 * strategy), those of the Redis backend (`hosts`, `prefix`, encryption, credentials,
 * `operationTimeout`), the common ones (applied on both sides), and `localChannels`.
 */
export interface HybridLayerOptions extends SharedLayerOptions, Omit<RedisLayerOptions, keyof SharedLayerOptions> {
  /**
   * Plain channels that stay on this machine (shared memory only, never Redis): glob
   * patterns or RegExps, e.g. `['pipeline.*']`. Every other plain channel is one queue over
   * all machines, in Redis. Process-specific channels are routed by their owner and cannot
   * be listed here. A group whose name matches is machine-local too: only this machine's
   * channels can join it, and `groupSend` to it never asks Redis.
   */
  localChannels?: ReadonlyArray<string | RegExp>;
}

/** What `layer.handle` of a hybrid layer holds: a shared handle plus the bus' Redis side. */
export interface HybridLayerHandle extends SharedLayerHandle {
  /** The hybrid part: the bus id and the options every attached instance uses. */
  readonly hybrid: {
    /** This machine's bus id: the owner part of its process-specific channels. */
    readonly bus: string;
    /** The options the hybrid layer was created with. */
    readonly options: HybridLayerOptions;
  };
}

/** The options split by side, checked. */
export interface SplitHybridOptions {
  shared: SharedLayerOptions;
  redis: RedisLayerOptions;
  /** True for plain channels that stay on this machine. */
  isLocal: (channel: string) => boolean;
  /** True when some plain channels are machine-local (local groups may exist). */
  hasLocal: boolean;
}

const COMMON = ['capacity', 'channelCapacity', 'expiry', 'groupExpiry', 'allowLongExpiry', 'maxMessageSize',
  'delivery', 'order', 'channelOrder', 'full', 'channelFull', 'wait', 'spinBudget', 'leaseTimeout',
  'maxDeliveries', 'deadLetterChannel'] as const;
const SHARED_ONLY = ['memory', 'maxNames', 'maxLeases', 'livenessTimeout', 'frozenMessages', 'records'] as const;
const REDIS_ONLY = ['hosts', 'prefix', 'symmetricEncryptionKeys', 'operationTimeout', 'redisOptions', 'password',
  'username', 'tls'] as const;

/** Every option of the hybrid backend (unknown ones are refused). */
export const HYBRID_OPTION_KEYS = [...COMMON, ...SHARED_ONLY, ...REDIS_ONLY, 'localChannels'] as const;
/** Fails to compile when an option of HybridLayerOptions is missing from HYBRID_OPTION_KEYS. */
const hybridKeysComplete: CoversKeys<HybridLayerOptions, typeof HYBRID_OPTION_KEYS> = true;
void hybridKeysComplete;

/** Why `full` other than 'reject' is refused layer-wide (see the module comment of hybrid.ts). */
export const SPECIFIC_FULL =
  "on the hybrid backend the process-specific channels of a machine share one Redis key (as in channels_redis), " +
  "so 'drop-oldest' would evict another channel's message there and 'wait' would wait for room in that key, not " +
  "in the channel: process-specific channels use full: 'reject'; give other policies to plain channels with " +
  "channelFull (e.g. channelFull: { 'jobs.*': 'wait' })";

/** Check `options` and split them; throws TypeError (bad or unknown option) or Unsupported. */
export function splitHybridOptions(options: HybridLayerOptions): SplitHybridOptions {
  assertOptionsObject("createLayer({ backend: 'hybrid' })", options);
  // An unknown option names the closest known one, as on the other backends.
  assertKnownOptions("createLayer({ backend: 'hybrid' })", options, HYBRID_OPTION_KEYS);
  if (options.full === 'drop-oldest' || options.full === 'wait') {
    throw new Unsupported(`option full: ${quote(options.full)}: ${SPECIFIC_FULL}`);
  }
  const shared: Record<string, unknown> = {};
  const redis: Record<string, unknown> = {};
  const source = options as Record<string, unknown>;
  for (const key of COMMON) {
    if (source[key] !== undefined) shared[key] = redis[key] = source[key];
  }
  for (const key of SHARED_ONLY) if (source[key] !== undefined) shared[key] = source[key];
  for (const key of REDIS_ONLY) if (source[key] !== undefined) redis[key] = source[key];

  const patterns = options.localChannels;
  if (patterns !== undefined && !Array.isArray(patterns)) {
    throw new TypeError(`invalid option localChannels: ${quote(patterns)}; expected an array of glob strings or RegExps`);
  }
  const list = (patterns ?? []) as ReadonlyArray<string | RegExp>;
  const pairs: PatternMap<boolean> = list.map((p) => [p, true] as const);
  const isLocal = compilePatterns<boolean>('localChannels', false, pairs, () => undefined);
  return { shared: shared as SharedLayerOptions, redis: redis as RedisLayerOptions, isLocal, hasLocal: list.length > 0 };
}
