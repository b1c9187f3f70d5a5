/**
 * Options of the Redis layer, their defaults and checks, and the translation of each host
 * entry into the arguments of an ioredis client.
 *
 * @module
 */

import type { RedisOptions } from 'ioredis';
import { assertKnownOptions, type Bytes, type Milliseconds } from '../options.js';
import {
  COMMON_OPTION_KEYS,
  TRADEOFF_OPTION_KEYS,
  assertOptionsObject,
  type CoversKeys,
  assertPositiveInteger,
  assertPositiveNumber,
  quote,
  resolveCommonOptions,
  resolveTradeoffs,
  type CommonLayerOptions,
  type ResolvedCommonOptions,
  type ResolvedTradeoffs,
  type TradeoffOptions,
} from '../layer.js';
import { Fernet, MultiFernet } from './fernet.js';
import { MAX_TIMER_MS } from '../wait.js';

/** Where a Sentinel listens. */
export interface SentinelAddress {
  /** Host name or address of the sentinel. */
  host: string;
  /** Its port (Sentinel's default is 26379). */
  port: number;
}

/** A Redis Sentinel deployment: ioredis asks the sentinels for the current master `name`. */
export interface RedisSentinelHost extends RedisOptions {
  /** The sentinels to ask, e.g. `[{ host: 'sentinel-1', port: 26379 }]`. */
  sentinels: SentinelAddress[];
  /** The master's name as the sentinels know it. */
  name: string;
}

/** A server by address; any other ioredis option (password, username, tls, db, ...) may be added. */
export interface RedisServerHost extends RedisOptions {
  /** Host name or address. Default `'127.0.0.1'`. */
  host?: string;
  /** Port. Default 6379. */
  port?: number;
}

/**
 * One entry of `hosts`: a URL (`redis://[user:password@]host[:port][/db]`, `rediss://` for
 * TLS), a `{ host, port }` object, or a Sentinel `{ sentinels, name }` object.
 */
export type RedisHost = string | RedisServerHost | RedisSentinelHost;

/** Options of the Redis backend (`createLayer({ backend: 'redis', ... })`). */
export interface RedisLayerOptions extends CommonLayerOptions, TradeoffOptions {
  /**
   * The Redis servers. Several hosts form a ring: channels and groups are spread over them
   * exactly as channels_redis spreads them, so that Python and Node processes configured
   * with the same list (in the same order) find each other's keys.
   * Default `['redis://127.0.0.1:6379']`.
   */
  hosts?: RedisHost[];
  /** Prefix of every key. Default `'asgi'` (as channels_redis). Must not be empty. */
  prefix?: string;
  /**
   * Encrypt message bodies (Fernet, as channels_redis' `symmetric_encryption_keys`). The
   * first key encrypts; all are tried to decrypt, which allows rotating keys.
   */
  symmetricEncryptionKeys?: Array<string | Uint8Array>;
  /** Largest encoded message accepted, in **bytes** (before encryption). Default 1 MiB. */
  maxMessageSize?: Bytes;
  /**
   * **Milliseconds** an operation (send, groupSend, groupAdd, ...) waits for a server that is
   * unreachable or does not answer, before it rejects with {@link ConnectionError}. Also
   * bounds `createLayer`'s first connection. Default 5000. Pending receives do not time
   * out because of an outage: they wait and resume when the server returns. At most
   * 2^31 - 1 ms (a larger value is a RangeError).
   */
  operationTimeout?: Milliseconds;
  /** ioredis options applied to every host (a host entry's own options win). */
  redisOptions?: RedisOptions;
  /** Password for every host (AUTH), unless a host or URL says otherwise. */
  password?: string;
  /** ACL user name for every host, unless a host or URL says otherwise. */
  username?: string;
  /** TLS options for every host (`{}` for TLS with the system's CAs); `rediss://` URLs imply TLS. */
  tls?: RedisOptions['tls'];
}

/** Every option of the Redis backend (unknown ones are refused). */
export const REDIS_OPTION_KEYS = [
  ...COMMON_OPTION_KEYS, ...TRADEOFF_OPTION_KEYS, 'hosts', 'prefix', 'symmetricEncryptionKeys', 'maxMessageSize',
  'operationTimeout', 'redisOptions', 'password', 'username', 'tls',
] as const;
/** Fails to compile when an option of RedisLayerOptions is missing from REDIS_OPTION_KEYS. */
const redisKeysComplete: CoversKeys<RedisLayerOptions, typeof REDIS_OPTION_KEYS> = true;
void redisKeysComplete;

/** The options with defaults applied and values checked. */
export interface ResolvedRedisOptions {
  common: ResolvedCommonOptions;
  tradeoffs: ResolvedTradeoffs;
  hosts: HostConfig[];
  prefix: string;
  crypter: MultiFernet | null;
  maxMessageSize: number;
  operationTimeout: number;
  /** True when no channelCapacity / channelFull patterns exist: every key has the same capacity and policy. */
  uniformChannels: boolean;
}

/** How to build the ioredis client of one host. */
export interface HostConfig {
  /** For error messages: an address without credentials. */
  label: string;
  /** A URL for ioredis' first argument, or null. */
  url: string | null;
  /** ioredis options (merged: layer defaults < redisOptions < layer shortcuts < host entry). */
  options: RedisOptions;
}

/** Check `options` and apply the defaults. Throws TypeError (bad value) or Unsupported (trade-off). */
export function resolveRedisOptions(options: RedisLayerOptions): ResolvedRedisOptions {
  assertOptionsObject("createLayer({ backend: 'redis' })", options);
  assertKnownOptions("createLayer({ backend: 'redis' })", options, REDIS_OPTION_KEYS);
  const common = resolveCommonOptions(options);
  const tradeoffs = resolveTradeoffs(options);
  const prefix = options.prefix ?? 'asgi';
  if (typeof prefix !== 'string' || prefix.length === 0) {
    throw new TypeError(`invalid option prefix: ${quote(prefix)}; it must be a non-empty string (flush deletes '<prefix>*')`);
  }

  const maxMessageSize = options.maxMessageSize ?? 1024 * 1024;
  assertPositiveInteger('maxMessageSize', maxMessageSize);

  const operationTimeout = options.operationTimeout ?? 5000; // milliseconds
  assertPositiveNumber('operationTimeout', operationTimeout);
  if (operationTimeout > MAX_TIMER_MS) {
    // ioredis arms its command timer with setTimeout, which fires at once from 2^31 ms on.
    throw new RangeError(
      `invalid option operationTimeout: ${operationTimeout} ms; it must be at most ${MAX_TIMER_MS} ms (2^31 - 1, about 24.8 days)`,
    );
  }

  let crypter: MultiFernet | null = null;
  const keys = options.symmetricEncryptionKeys;
  if (keys !== undefined) {
    if (!Array.isArray(keys) || keys.length === 0) {
      throw new TypeError(`invalid option symmetricEncryptionKeys: ${quote(keys)}; it must be a non-empty array of keys`);
    }
    crypter = new MultiFernet(
      keys.map((key, i) => {
        if (!(typeof key === 'string' || key instanceof Uint8Array) || key.length === 0) {
          throw new TypeError(`invalid option symmetricEncryptionKeys[${i}]: a key is a non-empty string or Uint8Array`);
        }
        return Fernet.fromSecret(key);
      }),
    );
  }

  const hostList = options.hosts ?? ['redis://127.0.0.1:6379'];
  if (!Array.isArray(hostList) || hostList.length === 0) {
    throw new TypeError(`invalid option hosts: ${quote(hostList)}; it must be a non-empty array of URLs or host objects`);
  }
  const shared: RedisOptions = { ...(options.redisOptions ?? {}) };
  refuseKeyPrefix('redisOptions', shared);
  if (options.password !== undefined) shared.password = options.password;
  if (options.username !== undefined) shared.username = options.username;
  if (options.tls !== undefined) shared.tls = options.tls;
  const hosts = hostList.map((entry, i) => hostConfig(entry, i, shared));

  const uniformChannels = options.channelCapacity === undefined && options.channelFull === undefined;
  return { common, tradeoffs, hosts, prefix, crypter, maxMessageSize, operationTimeout, uniformChannels };
}

/**
 * ioredis' `keyPrefix` would prefix the keys a command names but not the keys the scripts
 * compute (group members), splitting one channel over two keys: the layer's `prefix` does
 * the job for every key.
 */
function refuseKeyPrefix(where: string, options: RedisOptions): void {
  if (options.keyPrefix !== undefined) {
    throw new TypeError(`invalid option ${where}.keyPrefix: use the layer option 'prefix' instead (it applies to every key, as channels_redis' prefix)`);
  }
}

function hostConfig(entry: RedisHost, index: number, shared: RedisOptions): HostConfig {
  if (typeof entry === 'string') {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new TypeError(`invalid option hosts[${index}]: ${quote(entry)} is not a URL (expected redis://host:port)`);
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new TypeError(`invalid option hosts[${index}]: ${quote(url.protocol)} URLs are not supported (use redis:// or rediss://)`);
    }
    const options: RedisOptions = { ...shared };
    // A URL's own credentials win; ioredis reads them from the URL, so drop the shortcuts then.
    if (url.password) delete options.password;
    if (url.username) delete options.username;
    if (url.protocol === 'rediss:' && options.tls === undefined) options.tls = {};
    return { label: `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`, url: entry, options };
  }
  if (entry === null || typeof entry !== 'object') {
    throw new TypeError(`invalid option hosts[${index}]: ${quote(entry)}; expected a URL string or an object`);
  }
  refuseKeyPrefix(`hosts[${index}]`, entry);
  if ('sentinels' in entry) {
    const s = entry as RedisSentinelHost;
    if (!Array.isArray(s.sentinels) || s.sentinels.length === 0 || typeof s.name !== 'string' || s.name.length === 0) {
      throw new TypeError(`invalid option hosts[${index}]: a Sentinel host needs a non-empty 'sentinels' array and a master 'name'`);
    }
    return { label: `sentinel master '${s.name}'`, url: null, options: { ...shared, ...s } };
  }
  const h = entry as RedisServerHost;
  if (h.host !== undefined && typeof h.host !== 'string') {
    throw new TypeError(`invalid option hosts[${index}].host: ${quote(h.host)}; expected a string`);
  }
  if (h.port !== undefined && (!Number.isInteger(h.port) || h.port < 1 || h.port > 65535)) {
    throw new TypeError(`invalid option hosts[${index}].port: ${quote(h.port)}; expected an integer 1..65535`);
  }
  const options: RedisOptions = { ...shared, ...h, host: h.host ?? '127.0.0.1', port: h.port ?? 6379 };
  return { label: `${options.host}:${options.port}`, url: null, options };
}
