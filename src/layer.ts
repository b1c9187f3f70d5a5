/**
 * The `ChannelLayer` contract every backend implements, its option and result types, and
 * the validation of names and messages that all backends share (it lives here once so
 * that the memory, shared and Redis layers reject exactly the same inputs).
 *
 * @module
 */

import { LayerClosed } from './errors.js';
import { quote } from './quote.js';
import type { LayerEvent, LayerEventListener } from './events.js';
import { assertExpiryUnits, type Count, type Milliseconds, type Seconds } from './options.js';

/** A value a message may carry: strings, numbers, booleans, null, bytes, and nestings of these. */
export type MessageValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Uint8Array
  | MessageValue[]
  | { [key: string]: MessageValue };

/** A message: a plain object. ASGI messages carry a `type` string by convention. */
export type Message = { [key: string]: MessageValue };

/** The leaf values a message may carry (see {@link MessageValue}). */
export type MessageScalar = string | number | bigint | boolean | null | Uint8Array;

/**
 * The constraint of the typed calls (`send<T>`, `receive<T>`, ...): `T` is a message type
 * when each of its properties is a {@link MessageScalar}, an array (or tuple) of message
 * values, or an object of the same kind. Unlike {@link Message} it needs no index signature,
 * so interfaces qualify:
 *
 * ```ts
 * interface Job { type: 'job'; id: number; tags?: string[] }
 * ```
 *
 * Functions, class instances such as `Date` or `Map`, `undefined` values and symbols do not
 * qualify (the runtime refuses them too). Optional properties are fine when omitted; set to
 * `undefined` they are refused at run time, as `undefined` never travels.
 */
export type MessageShape<T> = { [K in keyof T]: MessageValueShape<T[K]> };

/** The constraint on one property of a {@link MessageShape}. */
export type MessageValueShape<V> = [V] extends [MessageValue]
  ? V
  : V extends MessageScalar
  ? V
  : V extends (...args: never[]) => unknown
    ? never
    : V extends ReadonlyArray<unknown>
      ? { [I in keyof V]: MessageValueShape<V[I]> }
      : V extends object
        ? MessageShape<V>
        : never;

/** Options of a wait: `receive`, `listen`, and `send` under the `'wait'` full policy. */
export interface WaitOptions {
  /**
   * **Milliseconds**: give up after this long with a {@link TimeoutError} (nothing is consumed).
   * `0` means "only if a message is already there". Omitted (or `Infinity`): wait without
   * limit. Any finite value works, 2^31 ms (about 24.8 days) and more included.
   */
  timeout?: Milliseconds;
  /** Cancel the wait: it rejects with {@link Aborted} (nothing is consumed). */
  signal?: AbortSignal;
}

/** Options of `receive`. */
export type ReceiveOptions = WaitOptions;

/** Options of `send` (they matter only under the `'wait'` full policy). */
export type SendOptions = WaitOptions;

/** Options of `receiveMany`: those of a wait, and how many messages one call returns at most. */
export interface ReceiveManyOptions extends WaitOptions {
  /**
   * Most messages one call returns: an integer >= 1. Default 256.
   * The call waits for the first message only, then takes what is already queued, up to `max`.
   */
  max?: number;
}

/**
 * Borrows one shared-layer instance holds in shared memory at once (16); a borrow beyond them
 * gets private copies of its bytes (same contract, no gain). Other backends always copy.
 */
export const MAX_BORROWS = 16;

/** The default `max` of `receiveMany` (internal: the docs say 256). @internal */
export const DEFAULT_RECEIVE_MANY = 256;

/** Options of `listen`. */
export interface ListenOptions {
  /** Ends the iteration (the iterator returns; a pending wait is released). */
  signal?: AbortSignal;
}

/**
 * A message received under at-least-once delivery. Exactly one of `ack` / `nack` takes
 * effect; later calls resolve without effect. A lease that outlives `leaseTimeout` is
 * expired: its message has been (or will be) redelivered and `ack` resolves to `false`.
 * `ack` and `nack` are bound functions: destructuring them is fine.
 */
export interface Lease<T = Message> {
  /** A fresh copy of the message. */
  readonly message: T;
  /** 1 on first delivery, 2 on the first redelivery, and so on. */
  readonly deliveries: number;
  /** Settle: the message is gone for good. Resolves `true` if the lease was still held. */
  ack(): Promise<boolean>;
  /** Give the message back to the head of its channel now. Resolves `true` if the lease was still held. */
  nack(): Promise<boolean>;
}

/**
 * A message received with `receiveBorrowed`: its `Uint8Array` values may be views of the
 * layer's memory instead of copies (the shared backend: views into the shared block the
 * message travelled in, so a large payload is never copied out of it). Everything else in
 * `message` (strings, numbers, objects, arrays) is a fresh copy, as from `receive`.
 *
 * Contract:
 * - the bytes of `message` are valid until `release()` (or until the layer instance closes,
 *   which releases every borrow of the instance): read or copy them before. After that they
 *   may show another message's bytes; never keep a view (or a `subarray` of it) past
 *   `release()`, and never hand one to another thread;
 * - do not write into the views: treat them as read-only (writes are not carried anywhere);
 * - a borrowed view's `.buffer` is the memory it borrows from: on the shared backend the
 *   whole shared region, other messages included. Borrowing is the opt-in for that; the
 *   plain calls (`receive`, ...) never expose another message's bytes through `.buffer`;
 * - `release()` is idempotent and never throws: it returns `true` when this call gave the
 *   memory back, `false` when it was given back already (an earlier `release()`, or the close
 *   of the shared-layer instance that lent it, which gives back all its borrows);
 * - delivery is that of `receive`: the message is taken off its channel when the promise
 *   resolves (at most once); releasing gives memory back, it does not acknowledge or requeue.
 *
 * Memory and Redis implement the same contract with private copies (`release()` only marks
 * the borrow released), so code written against it runs on every backend.
 */
export interface Borrowed<T = Message> {
  /** The message; its byte values are valid until {@link Borrowed.release}. */
  readonly message: T;
  /** True once released (by `release()` or by the layer closing). */
  readonly released: boolean;
  /** Give the borrowed memory back. Idempotent: `true` the first time, `false` after. A bound function. */
  release(): boolean;
}

/** Counters of one layer instance (this thread's view for counters, the whole bus for depths). */
export interface LayerStats {
  /** Messages accepted by `send`, plus one per member delivery of `groupSend`. */
  sent: number;
  /** Messages handed to a receiver. */
  received: number;
  /** Messages found expired and discarded instead of delivered. */
  expired: number;
  /** Messages not delivered because a channel was full (groupSend misses, drop-oldest evictions). */
  dropped: number;
  /**
   * Times a call of this instance parked: got ready to sleep until woken (a receive waiting
   * for a message, a send under `full: 'wait'` for room), whether its last check before
   * sleeping then found what it waited for or not. Spinning is not counted. The Redis layer
   * counts the receives and sends that had to wait.
   */
  waits: number;
  /**
   * Times this instance woke a sleeping waiter (the shared layer: one notify per park at
   * most, and senders only at the low-water mark). 0 on Redis, where the server wakes clients.
   */
  notifies: number;
  /** Current number of queued messages per non-empty channel. */
  depths: Record<string, number>;
}

/** Delivery guarantee: see the trade-offs table in the README. */
export type DeliveryMode = 'at-most-once' | 'at-least-once';
/** Queue order of a channel. */
export type QueueOrder = 'fifo' | 'lifo';
/** What `send` does when the channel is full. */
export type FullPolicy = 'reject' | 'drop-oldest' | 'wait';
/** How a receiver waits for a message. */
export type WaitStrategy = 'park' | 'spin' | 'adaptive';

/**
 * Per-channel capacity overrides: glob patterns (`*`, `?`, `[...]`, matched against the
 * whole name) or regular expressions, mapped to capacities. The first match wins; a
 * channel that matches none gets `capacity`.
 */
export type ChannelCapacity = PatternMap<number>;

/**
 * Options common to every backend. Defaults are those of Django Channels, and so are the
 * units of the expiries: seconds (`expiry`, `groupExpiry`), while the waits of JavaScript
 * calls are in milliseconds (`timeout`, `leaseTimeout`). An unknown option is a `TypeError`
 * that names it and the closest known one.
 */
export interface CommonLayerOptions {
  /** Messages (a count) a channel holds before `send` rejects with ChannelFull. Default 100. */
  capacity?: Count;
  /** Per-channel capacity overrides (counts of messages), first match wins. */
  channelCapacity?: ChannelCapacity;
  /**
   * **Seconds** (as Django Channels) after which an undelivered message is discarded.
   * Default 60. Refused unless `allowLongExpiry`: above a day, a multiple of 1000 from an
   * hour up (milliseconds by mistake), or longer than `groupExpiry`.
   */
  expiry?: Seconds;
  /**
   * **Seconds** (as Django Channels) after which a group member that was not re-added is
   * dropped. Default 86400 (a day). Refused above a year unless `allowLongExpiry`.
   */
  groupExpiry?: Seconds;
  /** Accept the `expiry` / `groupExpiry` values that the unit check refuses. Default false. */
  allowLongExpiry?: boolean;
}

/** The keys of {@link CommonLayerOptions}, for the unknown-option check. */
export const COMMON_OPTION_KEYS = ['capacity', 'channelCapacity', 'expiry', 'groupExpiry', 'allowLongExpiry'] as const;

/** The methods of a channel layer (the ASGI channel layer specification in camelCase). */
export interface ChannelLayer {
  /** Optional ASGI features this layer offers, e.g. `['groups', 'flush']`. */
  readonly extensions: readonly string[];

  /**
   * Enqueue a copy of `message` on `channel`.
   *
   * Resolves once the message is queued (it may already have been received by then).
   * Rejects with `TypeError` for a bad name or message, {@link ChannelFull} when the channel
   * holds `capacity` messages, {@link MessageTooLarge}, or {@link LayerClosed}.
   *
   * `T` is inferred from `message`: any type of {@link MessageShape}, interfaces included.
   */
  send<T extends MessageShape<T>>(channel: string, message: T, options?: SendOptions): Promise<void>;

  /**
   * Take the oldest message of `channel`, waiting until one arrives.
   *
   * Resolves with a fresh copy of the message. Rejects with {@link TimeoutError} after
   * `timeout` ms, {@link Aborted} when `signal` aborts, {@link LayerClosed} when the layer
   * closes, and `TypeError` for a bad name. A rejected receive consumed nothing.
   *
   * `T` (default {@link Message}) is what the caller states the channel carries, e.g.
   * `receive<Job>('jobs')`; it is not checked at run time (any sender may have sent anything).
   */
  receive<T extends MessageShape<T> = Message>(channel: string, options?: ReceiveOptions): Promise<T>;

  /**
   * Iterate over the messages of `channel` as they arrive, until `signal` aborts (the loop
   * ends quietly) or the layer closes (the loop throws {@link LayerClosed}). `T` as for
   * `receive`.
   */
  listen<T extends MessageShape<T> = Message>(
    channel: string,
    options?: ListenOptions & { lease?: false },
  ): AsyncIterableIterator<T>;
  /** As above, yielding leases (at-least-once delivery): settle each with `ack` or `nack`. */
  listen<T extends MessageShape<T> = Message>(
    channel: string,
    options: ListenOptions & { lease: true },
  ): AsyncIterableIterator<Lease<T>>;

  /**
   * Enqueue a copy of `message` on `channel` now, or return `false` when the channel is full.
   * Never waits: under `full: 'wait'` a full channel returns `false`; under `'drop-oldest'`
   * the oldest message is evicted (and counted in `stats().dropped`) and it returns `true`.
   * Throws what `send` rejects with otherwise (`TypeError`, {@link MessageTooLarge},
   * {@link LayerClosed}, ...). Backends that need a round trip for every answer (Redis)
   * throw {@link Unsupported}: there, `send` (which never waits under `'reject'`) is the call.
   */
  trySend<T extends MessageShape<T>>(channel: string, message: T): boolean;

  /**
   * Take the oldest message of `channel` if one is queued, else return `undefined`. Never
   * waits. Checks as `receive` (names, ownership of `!` channels, closed). Under at-least-once
   * delivery it settles at once, like `receive`. Redis throws {@link Unsupported} (use
   * `receive(channel, { timeout: 0 })` or `receiveMany`).
   */
  tryReceive<T extends MessageShape<T> = Message>(channel: string): T | undefined;

  /**
   * Enqueue copies of `messages`, in order, on `channel`: one call, one clock read and (Redis)
   * one round trip per batch. Every message is checked and encoded before any is queued, so a
   * `TypeError` (naming `messages[i]`) or {@link MessageTooLarge} means none was sent. Full
   * policies apply message by message: under `'reject'` the messages that fit are queued and
   * the call rejects with {@link ChannelFull} whose `sent` says how many (the first `sent`
   * are queued, the rest are not); under `'drop-oldest'` all are queued, evicting the oldest
   * (possibly earlier messages of the same batch); under `'wait'` it waits for room as needed,
   * `timeout` and `signal` covering the whole call, and a {@link TimeoutError} or
   * {@link Aborted} carries `sent` the same way.
   */
  sendMany<T extends MessageShape<T>>(channel: string, messages: readonly T[], options?: SendOptions): Promise<void>;

  /**
   * Wait for at least one message on `channel`, then take what is queued, oldest first, up to
   * `max` (default 256), in one call. Rejects as `receive` does (a rejected call consumed
   * nothing). Under at-least-once delivery the messages are settled at once, like `receive`'s
   * (use `receiveLease` for leases).
   */
  receiveMany<T extends MessageShape<T> = Message>(channel: string, options?: ReceiveManyOptions): Promise<T[]>;

  /**
   * As `receive`, but the message's `Uint8Array` values are borrowed instead of copied: on
   * the shared backend they are views of the shared block the message arrived in (no second
   * copy of a large payload), valid until the returned {@link Borrowed}'s `release()`. Same
   * checks, waits and rejections as `receive`, and the same delivery (the message is taken
   * when the call resolves). Release every borrow, e.g. in a `finally`: an unreleased borrow
   * holds its block of shared memory until the layer instance closes.
   *
   * ```ts
   * const b = await layer.receiveBorrowed('video.frames');
   * try {
   *   hash.update(b.message.frame as Uint8Array); // the bytes straight out of shared memory
   * } finally {
   *   b.release();
   * }
   * ```
   *
   * When it is worth it, and the limits (a copy is made instead for a message delivered to
   * several members of a group, or when the instance holds {@link MAX_BORROWS} borrows): see
   * docs/tradeoffs.md.
   */
  receiveBorrowed<T extends MessageShape<T> = Message>(channel: string, options?: ReceiveOptions): Promise<Borrowed<T>>;

  /**
   * A new process-specific channel name owned by this layer instance, e.g.
   * `'specific.<client>!<random>'`. Only this instance may receive on it.
   */
  newChannel(prefix?: string): Promise<string>;

  /** Add `channel` to `group` (again: refreshes its group expiry). */
  groupAdd(group: string, channel: string): Promise<void>;

  /** Remove `channel` from `group`; removing an absent member is not an error. */
  groupDiscard(group: string, channel: string): Promise<void>;

  /**
   * Send `message` to every current member of `group`. Never rejects with ChannelFull:
   * full members miss the message and the miss is counted in `stats().dropped`.
   */
  groupSend<T extends MessageShape<T>>(group: string, message: T): Promise<void>;

  /**
   * At-least-once delivery: take the oldest message of `channel` under a lease. Settle it
   * with `ack()`; `nack()` puts it back at the head of its channel; a lease that is not
   * settled within `leaseTimeout` (or whose holder's thread dies) is redelivered with
   * `deliveries` one higher. Rejects with {@link Unsupported} under at-most-once delivery.
   */
  receiveLease<T extends MessageShape<T> = Message>(channel: string, options?: ReceiveOptions): Promise<Lease<T>>;

  /** Empty every channel and group of the layer (the whole bus, for shared backends). */
  flush(): Promise<void>;

  /** Counters and depths; see {@link LayerStats}. */
  stats(): LayerStats;

  /**
   * Call `listener` for every message this instance drops, finds expired, or hands out again
   * under at-least-once delivery ({@link LayerEvent}). Returns a function that removes it.
   */
  onEvent(listener: LayerEventListener): () => void;

  /**
   * Release this instance: pending waits reject with {@link LayerClosed}, as does every
   * later call. Idempotent. On the shared backend, closing the layer that created the bus
   * shuts the whole bus down: every instance in every thread is closed the same way, and
   * later attaches fail with LayerClosed.
   */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Names

const NAME_RULE = 'ASCII letters, digits, hyphens, underscores and periods';
const CHANNEL_RE = /^[a-zA-Z0-9\-_.]+(![a-zA-Z0-9\-_.]*)?$/;
const GROUP_RE = /^[a-zA-Z0-9\-_.]+$/;

/** Longest valid channel or group name (names must be shorter than 100 characters). */
export const MAX_NAME_LENGTH = 99;

export { quote };

/**
 * Throw a `TypeError` unless `name` is a valid channel name: 1 to 99 characters of
 * ASCII letters, digits, `-`, `_`, `.`, optionally followed by one `!` and more of those.
 */
export function assertChannelName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH || !CHANNEL_RE.test(name)) {
    throw new TypeError(
      `invalid channel name ${quote(name)}: a channel name is a string of 1 to ${MAX_NAME_LENGTH} ` +
        `${NAME_RULE}, with at most one '!' (process-specific channel) after the first character`,
    );
  }
}

/** Throw a `TypeError` unless `name` is a valid group name (a channel name without `!`). */
export function assertGroupName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH || !GROUP_RE.test(name)) {
    throw new TypeError(
      `invalid group name ${quote(name)}: a group name is a string of 1 to ${MAX_NAME_LENGTH} ${NAME_RULE}`,
    );
  }
}

/** Throw a `TypeError` unless `prefix` can start a `newChannel` name. */
export function assertChannelPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 40 || !GROUP_RE.test(prefix)) {
    throw new TypeError(`invalid channel prefix ${quote(prefix)}: a prefix is a string of 1 to 40 ${NAME_RULE}`);
  }
}

/** True for process-specific channel names (those containing `!`). */
export function isProcessSpecific(channel: string): boolean {
  return channel.includes('!');
}

/**
 * The part of a process-specific channel name up to and including the `!` (the name of
 * its owner's shared queue in Redis); the name itself for ordinary channels.
 */
export function ownerPart(channel: string): string {
  const bang = channel.indexOf('!');
  return bang < 0 ? channel : channel.slice(0, bang + 1);
}

// ---------------------------------------------------------------------------------------
// Messages: the contract (what is carried exactly, what is refused) lives with the codec,
// which checks and encodes a message in one walk.

export { assertMessage, MAX_MESSAGE_DEPTH, RESERVED_FIELD } from './codec.js';

// ---------------------------------------------------------------------------------------
// Options

/** Common options with defaults applied and values checked. */
export interface ResolvedCommonOptions {
  capacity: number;
  capacityOf: (channel: string) => number;
  expiryMs: number;
  groupExpiryMs: number;
}

/** Throw a `TypeError` naming option `name` unless `value` is an integer >= 1. */
export function assertPositiveInteger(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TypeError(`invalid option ${name}: ${quote(value)}; it must be an integer >= 1`);
  }
}

/** Throw a `TypeError` naming option `name` unless `value` is a finite number > 0. */
export function assertPositiveNumber(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`invalid option ${name}: ${quote(value)}; it must be a finite number > 0`);
  }
}

/** Translate a glob (fnmatch: `*`, `?`, `[seq]`, `[!seq]`) into an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, end);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]-]/g, '\\$&');
  }
  return new RegExp(`^(?:${re})$`, 's');
}

/**
 * Per-channel overrides of a setting: glob patterns (matched against the whole name) or
 * regular expressions (matched from the start, like Python's `re.match`), first match wins.
 */
export type PatternMap<T> =
  | Record<string, T>
  | ReadonlyArray<readonly [string | RegExp, T]>
  | ReadonlyMap<string | RegExp, T>;

/**
 * Build a channel -> value function from a default and pattern overrides. `check` validates
 * each override value (it throws a TypeError naming `option`).
 */
export function compilePatterns<T>(
  option: string,
  fallback: T,
  patterns: PatternMap<T> | undefined,
  check: (name: string, value: unknown) => void,
): (channel: string) => T {
  if (patterns === undefined) return () => fallback;
  if (patterns === null || typeof patterns !== 'object') {
    throw new TypeError(`invalid option ${option}: ${quote(patterns)}; expected an object, an array of pairs or a Map`);
  }
  const entries: Array<readonly [string | RegExp, T]> =
    patterns instanceof Map
      ? [...patterns.entries()]
      : Array.isArray(patterns)
        ? [...(patterns as ReadonlyArray<readonly [string | RegExp, T]>)]
        : Object.entries(patterns as Record<string, T>);
  const rules = entries.map(([pattern, value]) => {
    if (!(typeof pattern === 'string' || pattern instanceof RegExp)) {
      throw new TypeError(`invalid option ${option}: pattern ${quote(pattern)} must be a glob string or a RegExp`);
    }
    check(`${option}[${String(pattern)}]`, value);
    let matches: (name: string) => boolean;
    if (typeof pattern === 'string') {
      const re = globToRegExp(pattern);
      matches = (name) => re.test(name);
    } else {
      const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
      matches = (name) => re.exec(name)?.index === 0;
    }
    return { matches, value };
  });
  const cache = new Map<string, T>();
  return (channel: string) => {
    let value = cache.get(channel);
    if (value === undefined) {
      value = rules.find((r) => r.matches(channel))?.value ?? fallback;
      if (cache.size >= 10_000) cache.clear();
      cache.set(channel, value);
    }
    return value;
  };
}

/** Build the channel -> capacity function from `capacity` and `channelCapacity`. */
export function compileCapacity(capacity: number, channelCapacity: ChannelCapacity | undefined): (channel: string) => number {
  return compilePatterns('channelCapacity', capacity, channelCapacity, assertPositiveInteger);
}

/** Check the common options and apply Django Channels' defaults. */
export function resolveCommonOptions(options: CommonLayerOptions): ResolvedCommonOptions {
  const capacity = options.capacity ?? 100;
  assertPositiveInteger('capacity', capacity);
  const expiry = options.expiry ?? 60;
  assertPositiveNumber('expiry', expiry);
  const groupExpiry = options.groupExpiry ?? 86400;
  assertPositiveNumber('groupExpiry', groupExpiry);
  const allowLong = options.allowLongExpiry ?? false;
  if (typeof allowLong !== 'boolean') {
    throw new TypeError(`invalid option allowLongExpiry: ${quote(allowLong)}; it must be a boolean`);
  }
  assertExpiryUnits(expiry, groupExpiry, options.expiry !== undefined, allowLong);
  return {
    capacity,
    capacityOf: compileCapacity(capacity, options.channelCapacity),
    expiryMs: expiry * 1000,
    groupExpiryMs: groupExpiry * 1000,
  };
}

/** Throw a `TypeError` unless `options` is undefined or an object. */
export function assertOptionsObject(what: string, options: unknown): void {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError(`invalid options for ${what}: ${quote(options)}; expected an object`);
  }
}

/** Check `timeout` / `signal` of a wait. */
export function assertWaitOptions(what: string, options: WaitOptions | undefined): void {
  assertOptionsObject(what, options);
  if (options?.timeout !== undefined) {
    const t = options.timeout;
    if (typeof t !== 'number' || Number.isNaN(t) || t < 0) {
      throw new TypeError(`invalid timeout ${quote(t)} for ${what}: it must be a number of milliseconds >= 0`);
    }
  }
  if (options?.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new TypeError(`invalid signal for ${what}: ${quote(options.signal)} is not an AbortSignal`);
  }
}

/** Reject with LayerClosed when `closed` (used at the top of every method). */
export function assertOpen(closed: boolean, what: string): void {
  if (closed) throw new LayerClosed(what);
}

// ---------------------------------------------------------------------------------------
// Trade-off knobs

/** The explicit trade-offs (see "Choosing your trade-offs" in the docs). */
export interface TradeoffOptions {
  /** `'at-most-once'` (default, as ASGI) or `'at-least-once'` (receive hands out leases). */
  delivery?: DeliveryMode;
  /** Queue order of every channel, `'fifo'` by default. */
  order?: QueueOrder;
  /** Per-channel order overrides, first match wins (same patterns as `channelCapacity`). */
  channelOrder?: PatternMap<QueueOrder>;
  /** What `send` does on a full channel: `'reject'` (default), `'drop-oldest'` or `'wait'`. */
  full?: FullPolicy;
  /** Per-channel full-policy overrides, first match wins. */
  channelFull?: PatternMap<FullPolicy>;
  /** How receivers (and waiting senders) wait: `'park'`, `'spin'` or `'adaptive'` (default). */
  wait?: WaitStrategy;
  /** Under `'adaptive'`, how many polls (a count) a waiter spins before it parks. Default 2000. */
  spinBudget?: Count;
  /** At-least-once: **milliseconds** after which an unsettled lease's message is redelivered. Default 30000. */
  leaseTimeout?: Milliseconds;
  /** At-least-once: deliveries (a count) after which a message goes to `deadLetterChannel`. Default: unlimited. */
  maxDeliveries?: Count;
  /** At-least-once: where messages that reached `maxDeliveries` go. Default `'ringbus.dead-letter'`. */
  deadLetterChannel?: string;
}

/** The keys of {@link TradeoffOptions}, for the unknown-option check. */
export const TRADEOFF_OPTION_KEYS = [
  'delivery', 'order', 'channelOrder', 'full', 'channelFull', 'wait', 'spinBudget', 'leaseTimeout', 'maxDeliveries',
  'deadLetterChannel',
] as const;

/**
 * A compile-time check that a list of option keys names every key of an options type: its
 * type is `true` only when none is missing (a new option must join its backend's key list).
 */
export type CoversKeys<O, K extends readonly string[]> = [Exclude<keyof O, K[number]>] extends [never] ? true : false;

/** Trade-off options with defaults applied and values checked. */
export interface ResolvedTradeoffs {
  delivery: DeliveryMode;
  orderOf: (channel: string) => QueueOrder;
  fullOf: (channel: string) => FullPolicy;
  wait: WaitStrategy;
  spinBudget: number;
  leaseTimeoutMs: number;
  maxDeliveries: number;
  deadLetterChannel: string;
}

type Check<T> = (name: string, value: unknown) => asserts value is T;

function oneOf<T extends string>(option: string, allowed: readonly T[]): Check<T> {
  return (name, value) => {
    if (!allowed.includes(value as T)) {
      throw new TypeError(`invalid option ${name || option}: ${quote(value)}; expected one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
    }
  };
}

const checkDelivery: Check<DeliveryMode> = oneOf<DeliveryMode>('delivery', ['at-most-once', 'at-least-once']);
const checkOrder: Check<QueueOrder> = oneOf<QueueOrder>('order', ['fifo', 'lifo']);
const checkFull: Check<FullPolicy> = oneOf<FullPolicy>('full', ['reject', 'drop-oldest', 'wait']);
const checkWait: Check<WaitStrategy> = oneOf<WaitStrategy>('wait', ['park', 'spin', 'adaptive']);

/** Check the trade-off options and apply their defaults. */
export function resolveTradeoffs(options: TradeoffOptions): ResolvedTradeoffs {
  const delivery = options.delivery ?? 'at-most-once';
  checkDelivery('delivery', delivery);
  const order = options.order ?? 'fifo';
  checkOrder('order', order);
  const full = options.full ?? 'reject';
  checkFull('full', full);
  const wait = options.wait ?? 'adaptive';
  checkWait('wait', wait);
  const spinBudget = options.spinBudget ?? 2000;
  if (typeof spinBudget !== 'number' || !Number.isInteger(spinBudget) || spinBudget < 0) {
    throw new TypeError(`invalid option spinBudget: ${quote(spinBudget)}; it must be an integer >= 0`);
  }
  const leaseTimeout = options.leaseTimeout ?? 30_000;
  assertPositiveNumber('leaseTimeout', leaseTimeout);
  const maxDeliveries = options.maxDeliveries ?? Infinity;
  if (maxDeliveries !== Infinity) assertPositiveInteger('maxDeliveries', maxDeliveries);
  const deadLetterChannel = options.deadLetterChannel ?? 'ringbus.dead-letter';
  assertChannelName(deadLetterChannel);
  return {
    delivery,
    orderOf: compilePatterns('channelOrder', order, options.channelOrder, checkOrder),
    fullOf: compilePatterns('channelFull', full, options.channelFull, checkFull),
    wait,
    spinBudget,
    leaseTimeoutMs: leaseTimeout,
    maxDeliveries,
    deadLetterChannel,
  };
}
