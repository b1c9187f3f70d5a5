/**
 * What every backend shares: argument validation, the closed state, counters, the
 * ownership rule of process-specific channels, `newChannel` and `listen`. A backend
 * extends {@link LayerBase} and implements the `do*` methods, which receive arguments that
 * are already checked. Keeping the checks here is what makes all backends reject exactly
 * the same inputs with exactly the same errors.
 *
 * @module
 */

import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { Aborted, LayerClosed, NotOwner, RingbusError, Unsupported } from '../errors.js';
import {
  assertChannelName,
  assertChannelPrefix,
  assertGroupName,
  assertMessage,
  assertWaitOptions,
  assertOptionsObject,
  ownerPart,
  quote,
  DEFAULT_RECEIVE_MANY,
  type ReceiveManyOptions,
  type Borrowed,
  type ChannelLayer,
  type Lease,
  type LayerStats,
  type ListenOptions,
  type Message,
  type MessageShape,
  type ReceiveOptions,
  type SendOptions,
} from '../layer.js';
import { encode } from '../codec.js';
import { listenLoop } from '../wait.js';
import { copiedBorrow } from './borrow.js';
import { CLONE_GUARD } from './shared/worker-data.js';
import type { DropReason, LayerEvent, LayerEventListener } from '../events.js';

/** Mutable per-instance counters behind `stats()`. */
export interface Counters {
  sent: number;
  received: number;
  expired: number;
  dropped: number;
  waits: number;
  notifies: number;
}

/**
 * Mark `err`, which stopped a `sendMany` of `total` messages, with how many were queued
 * (`err.sent`) and say so in its message; non-ringbus errors pass through unchanged.
 */
export function partialSend(err: unknown, sent: number, total: number): unknown {
  if (err instanceof RingbusError && err.sent === undefined) {
    err.sent = sent;
    err.message += ` (sendMany: ${sent} of ${total} messages were queued, the first ${sent}; the rest were not)`;
  }
  return err;
}

/** A random lowercase hex string of `bytes * 2` characters. */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** Base class of the layers; see the module comment. */
export abstract class LayerBase implements ChannelLayer {
  /**
   * Declared first so that it is the first non-cloneable property a structured clone meets:
   * cloning a layer (`workerData: layer`) then fails with a DataCloneError that says to pass
   * `layer.handle` (see CLONE_GUARD).
   */
  private readonly cloneGuard: () => string = CLONE_GUARD;
  abstract readonly extensions: readonly string[];

  /**
   * The id of this instance inside process-specific channel names: `newChannel()` returns
   * `<prefix>.<clientId>!<random>`, and only the instance with this id may receive on them.
   */
  readonly clientId: string;

  /** Aborts when the layer closes; every wait listens to it. */
  protected readonly closeSignal: AbortSignal;
  protected readonly counters: Counters = { sent: 0, received: 0, expired: 0, dropped: 0, waits: 0, notifies: 0 };
  /** True while someone listens to {@link LayerBase.onEvent} (checked before building an event). */
  protected observed = false;
  private readonly eventListeners = new Set<LayerEventListener>();
  private readonly closer = new AbortController();
  private closing: Promise<void> | null = null;

  /** @param clientId this instance's id; random when omitted */
  protected constructor(clientId: string = randomHex(6)) {
    this.clientId = clientId;
    this.closeSignal = this.closer.signal;
    // Every pending wait listens to it: a server with many receives in flight is no leak.
    setMaxListeners(0, this.closeSignal);
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.closer.signal.aborted;
  }

  async send<T extends MessageShape<T>>(channel: string, message: T, options?: SendOptions): Promise<void> {
    const m = message as unknown as Message;
    this.checkSend(channel, m, options);
    return this.doSend(channel, m, options);
  }

  async receive<T extends MessageShape<T> = Message>(channel: string, options?: ReceiveOptions): Promise<T> {
    this.checkReceive('receive', channel, options);
    return this.doReceive(channel, options) as Promise<unknown> as Promise<T>;
  }

  async receiveBorrowed<T extends MessageShape<T> = Message>(channel: string, options?: ReceiveOptions): Promise<Borrowed<T>> {
    this.checkReceive('receiveBorrowed', channel, options);
    return this.doReceiveBorrowed(channel, options) as Promise<unknown> as Promise<Borrowed<T>>;
  }

  async receiveLease<T extends MessageShape<T> = Message>(channel: string, options?: ReceiveOptions): Promise<Lease<T>> {
    this.checkReceive('receiveLease', channel, options);
    if (!this.leases) {
      throw new Unsupported(`receiveLease('${channel}') needs the layer option delivery: 'at-least-once'`);
    }
    const lease = await this.doReceiveLease(channel, options);
    if (this.observed && lease.deliveries > 1) this.emitEvent({ type: 'redelivered', channel, deliveries: lease.deliveries });
    return lease as unknown as Lease<T>;
  }

  /**
   * Call `listener` for every message this instance drops, finds expired, or hands out again
   * under at-least-once delivery (see {@link LayerEvent}): the moments `stats()` counts, with
   * their channel. Returns a function that removes the listener.
   *
   * ```ts
   * const stop = layer.onEvent((e) => {
   *   if (e.type === 'dropped') console.info(`${e.count} message(s) dropped on ${e.channel}: ${e.reason}`);
   * });
   * ```
   *
   * A listener runs synchronously inside the call that caused the event; an exception it
   * throws does not fail that call (it is rethrown asynchronously, as an uncaught exception).
   * Each instance reports its own operations (in a worker, attach there and listen there).
   */
  onEvent(listener: LayerEventListener): () => void {
    if (typeof listener !== 'function') {
      throw new TypeError(`invalid listener for onEvent: ${typeof listener}; expected a function`);
    }
    if (this.eventListeners.size === 0) this.startObserving();
    this.eventListeners.add(listener);
    this.observed = true;
    return () => {
      this.eventListeners.delete(listener);
      this.observed = this.eventListeners.size > 0;
    };
  }

  /** Called when the first listener arrives (a backend snapshots what it will report deltas of). */
  protected startObserving(): void {}

  /** Hand `event` to every listener; a listener's exception surfaces asynchronously. */
  protected emitEvent(event: LayerEvent): void {
    for (const listener of this.eventListeners) {
      try {
        listener(event);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /** Count `count` dropped messages of `channel` and report them to listeners. */
  protected noteDropped(count: number, channel: string | null, reason: DropReason, group?: string): void {
    if (count <= 0) return;
    this.counters.dropped += count;
    if (this.observed) this.emitEvent(group === undefined ? { type: 'dropped', channel, count, reason } : { type: 'dropped', channel, group, count, reason });
  }

  /** Count `count` expired messages of `channel` and report them to listeners. */
  protected noteExpired(count: number, channel: string | null): void {
    if (count <= 0) return;
    this.counters.expired += count;
    if (this.observed) this.emitEvent({ type: 'expired', channel, count });
  }

  trySend<T extends MessageShape<T>>(channel: string, message: T): boolean {
    const m = message as unknown as Message;
    this.checkSend(channel, m, undefined, false, 'trySend');
    return this.doTrySend(channel, m);
  }

  tryReceive<T extends MessageShape<T> = Message>(channel: string): T | undefined {
    this.checkReceive('tryReceive', channel, undefined);
    return this.doTryReceive(channel) as unknown as T | undefined;
  }

  async sendMany<T extends MessageShape<T>>(channel: string, messages: readonly T[], options?: SendOptions): Promise<void> {
    const ms = messages as unknown as readonly Message[];
    const encoded = this.checkSendMany(channel, ms, options);
    if (ms.length === 0) return;
    return this.doSendMany(channel, encoded, options);
  }

  async receiveMany<T extends MessageShape<T> = Message>(channel: string, options?: ReceiveManyOptions): Promise<T[]> {
    const max = this.checkReceiveMany(channel, options);
    return this.doReceiveMany(channel, max, options) as Promise<unknown> as Promise<T[]>;
  }

  listen<T extends MessageShape<T> = Message>(channel: string, options?: ListenOptions & { lease?: false }): AsyncIterableIterator<T>;
  listen<T extends MessageShape<T> = Message>(channel: string, options: ListenOptions & { lease: true }): AsyncIterableIterator<Lease<T>>;
  listen(channel: string, options?: ListenOptions & { lease?: boolean }): AsyncIterableIterator<Message | Lease> {
    // Checked now, not at the first next(): a bad name is the caller's bug, said at once.
    assertOptionsObject('listen', options);
    this.checkReceiveArgs(channel, options?.signal ? { signal: options.signal } : undefined);
    if (options?.lease === true) {
      if (!this.leases) throw new Unsupported(`listen('${channel}', { lease: true }) needs delivery: 'at-least-once'`);
      return listenLoop((o) => this.receiveLease(channel, o), options.signal);
    }
    return listenLoop((o) => this.receive(channel, o), options?.signal, this.listenTake(channel));
  }

  /**
   * What `listen` calls before each wait: `tryReceive`, or null for a backend without
   * synchronous calls (each message is then a `receive`). The loop drains what is queued
   * without a wait per message, but takes one message per step and never a batch ahead, so
   * a caller that breaks out of it leaves every message it did not see on its channel.
   */
  protected listenTake(channel: string): (() => Message | undefined) | null {
    return () => this.tryReceive(channel);
  }

  async newChannel(prefix = 'specific'): Promise<string> {
    this.assertOpen('newChannel');
    assertChannelPrefix(prefix);
    return `${prefix}.${this.clientId}!${randomHex(6)}`;
  }

  async groupAdd(group: string, channel: string): Promise<void> {
    this.assertOpen('groupAdd');
    assertGroupName(group);
    assertChannelName(channel);
    return this.doGroupAdd(group, channel);
  }

  async groupDiscard(group: string, channel: string): Promise<void> {
    this.assertOpen('groupDiscard');
    assertGroupName(group);
    assertChannelName(channel);
    return this.doGroupDiscard(group, channel);
  }

  async groupSend<T extends MessageShape<T>>(group: string, message: T): Promise<void> {
    this.assertOpen('groupSend');
    assertGroupName(group);
    const m = message as unknown as Message;
    this.checkMessage(m);
    return this.doGroupSend(group, m);
  }

  async flush(): Promise<void> {
    this.assertOpen('flush');
    return this.doFlush();
  }

  stats(): LayerStats {
    return { ...this.counters, depths: this.depths() };
  }

  close(): Promise<void> {
    if (this.closing === null) {
      this.closer.abort(new LayerClosed('wait', this.closedBecause()));
      this.closing = this.doClose();
    }
    return this.closing;
  }

  /** True when this layer hands out leases (at-least-once delivery). */
  protected get leases(): boolean {
    return false;
  }

  /** Throw LayerClosed once the layer is closed. */
  protected assertOpen(what: string): void {
    if (this.closed) throw new LayerClosed(what, this.closedBecause());
  }

  /** Why the layer is (being) closed when it was not its own `close()`; undefined otherwise. */
  protected closedBecause(): string | undefined {
    return undefined;
  }

  /** True when this instance may receive on `channel` (see {@link LayerBase.clientId}). */
  owns(channel: string): boolean {
    const owner = ownerPart(channel);
    return owner === channel || owner.endsWith(`.${this.clientId}!`) || owner === `${this.clientId}!`;
  }

  /**
   * Every check of `send`, throwing what `send` rejects with. A backend's fast path calls it
   * too, so that it refuses exactly what `send` refuses; `nameChecked`: the caller already
   * knows `channel` is valid (e.g. it found it in a cache of names it resolved before).
   */
  protected checkSend(
    channel: string, message: Message, options: SendOptions | undefined, nameChecked = false, what = 'send',
  ): void {
    this.assertOpen(what);
    if (!nameChecked) assertChannelName(channel);
    this.checkMessage(message);
    if (options === undefined) return;
    assertWaitOptions('send', options);
    if (options.signal?.aborted) throw new Aborted(`send('${channel}')`, options.signal.reason);
  }

  /**
   * Every check of `sendMany`: those of `send`, for each message (errors name `messages[i]`).
   * Returns the messages encoded (plain msgpack, each in a buffer of its own): the check is
   * an encode, so a backend stores these bytes instead of encoding a second time.
   */
  protected checkSendMany(channel: string, messages: readonly Message[], options: SendOptions | undefined): Uint8Array[] {
    this.assertOpen('sendMany');
    assertChannelName(channel);
    if (!Array.isArray(messages)) {
      throw new TypeError(`invalid messages ${quote(messages)} for sendMany('${channel}'): expected an array of messages`);
    }
    if (options !== undefined) {
      assertWaitOptions('sendMany', options);
      if (options.signal?.aborted) throw new Aborted(`sendMany('${channel}')`, options.signal.reason);
    }
    const encoded: Uint8Array[] = [];
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i] as Message;
      try {
        this.checkMessage(message);
      } catch (err) {
        if (!(err instanceof TypeError)) throw err;
        throw new TypeError(`sendMany('${channel}'): messages[${i}]: ${err.message}; nothing of the batch was sent`);
      }
      encoded.push(this.encodeChecked(message).slice()); // the encode of the check, from the codec's cache
    }
    return encoded;
  }

  /**
   * The message check of `send`, `groupSend` and `sendMany`: `assertMessage`, which encodes
   * the message as plain msgpack and keeps the bytes for the {@link LayerBase.encodeChecked}
   * that follows. The shared layer's records encoding replaces both (src/codec/records.ts).
   */
  protected checkMessage(message: Message): void {
    assertMessage(message);
  }

  /** The bytes of the message {@link LayerBase.checkMessage} just checked (from the codec's cache). */
  protected encodeChecked(message: Message): Uint8Array {
    return encode(message);
  }

  /** Every check of `receiveMany`; returns its `max`. */
  protected checkReceiveMany(channel: string, options: ReceiveManyOptions | undefined, nameChecked = false): number {
    this.checkReceive('receiveMany', channel, options, nameChecked);
    const max = options?.max ?? DEFAULT_RECEIVE_MANY;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) {
      throw new TypeError(`invalid max ${quote(max)} for receiveMany('${channel}'): it must be an integer >= 1`);
    }
    return max;
  }

  /**
   * Every check of `receive` / `receiveLease` (`what`), as {@link LayerBase.checkSend} for
   * sends. An already-aborted signal means "do nothing", even when a message is waiting.
   */
  protected checkReceive(what: string, channel: string, options: ReceiveOptions | undefined, nameChecked = false): void {
    this.checkReceiveArgs(channel, options, nameChecked, what);
    if (options?.signal?.aborted) throw new Aborted(`${what}('${channel}')`, options.signal.reason);
  }

  private checkReceiveArgs(channel: string, options: ReceiveOptions | undefined, nameChecked = false, what = 'receive'): void {
    this.assertOpen(what);
    if (!nameChecked) assertChannelName(channel);
    if (options !== undefined) assertWaitOptions(what, options);
    if (!this.owns(channel)) {
      throw new NotOwner(
        channel,
        `process-specific channels are received only by the layer instance whose newChannel() made them ` +
          `(this instance's names look like '<prefix>.${this.clientId}!...')`,
      );
    }
  }

  protected abstract doSend(channel: string, message: Message, options: SendOptions | undefined): Promise<void>;
  protected abstract doReceive(channel: string, options: ReceiveOptions | undefined): Promise<Message>;
  /** `trySend` with checked arguments. */
  protected abstract doTrySend(channel: string, message: Message): boolean;
  /** `tryReceive` with checked arguments. */
  protected abstract doTryReceive(channel: string): Message | undefined;
  /**
   * `sendMany` with checked arguments and at least one message, as `checkSendMany` encoded
   * them (the size limit is the backend's to check).
   */
  protected abstract doSendMany(channel: string, encoded: readonly Uint8Array[], options: SendOptions | undefined): Promise<void>;
  /** `receiveMany` with checked arguments. */
  protected abstract doReceiveMany(channel: string, max: number, options: ReceiveManyOptions | undefined): Promise<Message[]>;
  /**
   * `receiveBorrowed` with checked arguments. This default borrows the private copy that
   * `doReceive` makes (memory, Redis); the shared layer lends its shared blocks instead.
   */
  protected async doReceiveBorrowed(channel: string, options: ReceiveOptions | undefined): Promise<Borrowed> {
    return copiedBorrow(await this.doReceive(channel, options));
  }
  protected doReceiveLease(channel: string, _options: ReceiveOptions | undefined): Promise<Lease> {
    return Promise.reject(new Unsupported(`receiveLease('${channel}') is not offered by this backend`));
  }
  protected abstract doGroupAdd(group: string, channel: string): Promise<void>;
  protected abstract doGroupDiscard(group: string, channel: string): Promise<void>;
  protected abstract doGroupSend(group: string, message: Message): Promise<void>;
  protected abstract doFlush(): Promise<void>;
  protected abstract depths(): Record<string, number>;
  protected abstract doClose(): Promise<void>;
}
