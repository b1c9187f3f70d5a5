/**
 * The in-memory layer: one thread, plain JavaScript maps and arrays, no cleverness. It is
 * the reference the fast layers are tested against (the conformance suite runs the same
 * tests on every backend, and the memory layer is where a semantic question is answered
 * by reading the code).
 *
 * Like Django Channels' InMemoryChannelLayer, each message is stored encoded (so the
 * receiver gets a fresh copy and nothing aliases the sender's objects) with its expiry
 * time; expired messages are dropped, never delivered. It implements every trade-off knob
 * too, so it is also the oracle for those.
 *
 * @module
 */

import { decode, encode } from '../codec.js';
import { ChannelFull, MessageTooLarge, TimeoutError } from '../errors.js';
import {
  COMMON_OPTION_KEYS,
  TRADEOFF_OPTION_KEYS,
  assertOptionsObject,
  type CoversKeys,
  assertPositiveInteger,
  resolveCommonOptions,
  resolveTradeoffs,
  type CommonLayerOptions,
  type Lease,
  type Message,
  type ReceiveOptions,
  type ResolvedCommonOptions,
  type ResolvedTradeoffs,
  type SendOptions,
  type TradeoffOptions,
} from '../layer.js';
import { WaitScope, longTimeout, type LongTimer } from '../wait.js';
import { assertKnownOptions, type Bytes } from '../options.js';
import { LayerBase } from './base.js';

/** Options of the memory backend. */
export interface MemoryLayerOptions extends CommonLayerOptions, TradeoffOptions {
  /** Largest encoded message accepted, in **bytes**. Default 1 MiB. */
  maxMessageSize?: Bytes;
}

/** Every option of the memory backend (unknown ones are refused). */
export const MEMORY_OPTION_KEYS = [...COMMON_OPTION_KEYS, ...TRADEOFF_OPTION_KEYS, 'maxMessageSize'] as const;
/** Fails to compile when an option of MemoryLayerOptions is missing from MEMORY_OPTION_KEYS. */
const memoryKeysComplete: CoversKeys<MemoryLayerOptions, typeof MEMORY_OPTION_KEYS> = true;
void memoryKeysComplete;

interface Stored {
  bytes: Uint8Array;
  expiresAt: number;
  deliveries: number;
}

/** Someone parked on a channel: a receiver waiting for a message, or a sender for room. */
interface Parked {
  wake: () => void;
}

interface Queue {
  /** The channel's name (for the events of {@link MemoryLayer.onEvent}). */
  readonly name: string;
  messages: Stored[];
  receivers: Parked[];
  senders: Parked[];
}

/**
 * The in-memory reference layer: one thread, plain maps; the readable oracle of the other
 * backends. Create it with `createLayer({ backend: 'memory' })`.
 *
 * Process lifetime: a pending `receive` does not keep the process alive (no timer and no
 * handle is held while it waits; a `timeout` holds a timer). A process with nothing else to
 * do exits with the receive still pending.
 */
export class MemoryLayer extends LayerBase {
  /** `groups`, `flush` (ASGI extensions) and `leases` (at-least-once delivery). */
  readonly extensions = ['groups', 'flush', 'leases'] as const;
  private readonly common: ResolvedCommonOptions;
  private readonly tradeoffs: ResolvedTradeoffs;
  private readonly maxMessageSize: number;
  private readonly channels = new Map<string, Queue>();
  /** group -> (channel -> time it was added, ms) */
  private readonly groups = new Map<string, Map<string, number>>();
  /** Leases handed out and not yet settled. */
  private readonly leased = new Set<MemoryLease>();

  /** @param options see {@link MemoryLayerOptions} */
  constructor(options: MemoryLayerOptions = {}) {
    super();
    assertOptionsObject("createLayer({ backend: 'memory' })", options);
    assertKnownOptions("createLayer({ backend: 'memory' })", options, MEMORY_OPTION_KEYS);
    this.common = resolveCommonOptions(options);
    this.tradeoffs = resolveTradeoffs(options);
    const maxMessageSize = options.maxMessageSize ?? 1024 * 1024;
    assertPositiveInteger('maxMessageSize', maxMessageSize);
    this.maxMessageSize = maxMessageSize;
  }

  protected override get leases(): boolean {
    return this.tradeoffs.delivery === 'at-least-once';
  }

  protected async doSend(channel: string, message: Message, options: SendOptions | undefined): Promise<void> {
    const bytes = this.encode(message);
    const queue = this.queue(channel);
    this.dropExpired(queue);
    const capacity = this.common.capacityOf(channel);
    if (queue.messages.length >= capacity) {
      const policy = this.tradeoffs.fullOf(channel);
      if (policy === 'reject') throw new ChannelFull(channel, capacity);
      if (policy === 'drop-oldest') {
        this.takeOldest(queue);
        this.noteDropped(1, channel, 'drop-oldest');
      } else {
        await this.park(queue.senders, `send('${channel}')`, options, () => {
          this.dropExpired(queue);
          return queue.messages.length < capacity;
        });
      }
    }
    this.enqueue(queue, bytes);
  }

  protected async doReceive(channel: string, options: ReceiveOptions | undefined): Promise<Message> {
    const stored = await this.take(channel, options);
    const message = decode(stored.bytes);
    this.counters.received++;
    return message;
  }

  protected override async doReceiveLease(channel: string, options: ReceiveOptions | undefined): Promise<Lease> {
    const stored = await this.take(channel, options);
    stored.deliveries++;
    this.counters.received++;
    const lease = new MemoryLease(this, channel, stored, decode(stored.bytes));
    this.leased.add(lease);
    return lease;
  }

  protected async doGroupAdd(group: string, channel: string): Promise<void> {
    let members = this.groups.get(group);
    if (members === undefined) this.groups.set(group, (members = new Map()));
    members.delete(channel); // re-adding moves the member to the end (refreshed time)
    members.set(channel, Date.now());
  }

  protected async doGroupDiscard(group: string, channel: string): Promise<void> {
    const members = this.groups.get(group);
    if (members === undefined) return;
    members.delete(channel);
    if (members.size === 0) this.groups.delete(group);
  }

  protected async doGroupSend(group: string, message: Message): Promise<void> {
    const bytes = this.encode(message);
    const members = this.groups.get(group);
    if (members === undefined) return;
    const oldest = Date.now() - this.common.groupExpiryMs;
    for (const [channel, addedAt] of members) {
      if (addedAt < oldest) {
        members.delete(channel);
        continue;
      }
      const queue = this.queue(channel);
      this.dropExpired(queue);
      if (queue.messages.length >= this.common.capacityOf(channel)) {
        if (this.tradeoffs.fullOf(channel) !== 'drop-oldest') {
          this.noteDropped(1, channel, 'group-full', group); // groupSend never raises ChannelFull and never waits
          continue;
        }
        this.takeOldest(queue);
        this.noteDropped(1, channel, 'drop-oldest');
      }
      this.enqueue(queue, bytes);
    }
    if (members.size === 0) this.groups.delete(group);
  }

  protected async doFlush(): Promise<void> {
    for (const queue of this.channels.values()) {
      queue.messages.length = 0;
      this.wakeAll(queue.senders);
    }
    for (const lease of this.leased) lease.expire();
    this.leased.clear();
    this.groups.clear();
  }

  protected depths(): Record<string, number> {
    const depths: Record<string, number> = {};
    for (const [channel, queue] of this.channels) {
      this.dropExpired(queue);
      if (queue.messages.length > 0) depths[channel] = queue.messages.length;
    }
    return depths;
  }

  protected async doClose(): Promise<void> {
    for (const lease of this.leased) lease.expire();
    this.leased.clear();
    this.channels.clear();
    this.groups.clear();
  }

  /** Called by a lease: put its message back at the head of its channel. @internal */
  requeue(channel: string, stored: Stored, lease: MemoryLease): void {
    this.leased.delete(lease);
    if (this.closed) return;
    const queue = this.queue(channel);
    if (stored.deliveries >= this.tradeoffs.maxDeliveries) {
      const dead = this.queue(this.tradeoffs.deadLetterChannel);
      this.enqueue(dead, stored.bytes);
      return;
    }
    // The head is where the next receive looks: the front for FIFO, the back for LIFO.
    if (this.tradeoffs.orderOf(channel) === 'fifo') queue.messages.unshift(stored);
    else queue.messages.push(stored);
    this.wakeOne(queue.receivers);
  }

  /** Called by a lease when it is acknowledged. @internal */
  settle(lease: MemoryLease): void {
    this.leased.delete(lease);
  }

  /** The lease timeout in milliseconds. @internal */
  get leaseTimeoutMs(): number {
    return this.tradeoffs.leaseTimeoutMs;
  }

  private encode(message: Message): Uint8Array {
    const bytes = encode(message);
    if (bytes.length > this.maxMessageSize) throw new MessageTooLarge(bytes.length, this.maxMessageSize);
    return bytes.slice(); // the codec reuses its buffer
  }

  private queue(channel: string): Queue {
    let queue = this.channels.get(channel);
    if (queue === undefined) this.channels.set(channel, (queue = { name: channel, messages: [], receivers: [], senders: [] }));
    return queue;
  }

  private enqueue(queue: Queue, bytes: Uint8Array): void {
    queue.messages.push({ bytes, expiresAt: Date.now() + this.common.expiryMs, deliveries: 0 });
    this.counters.sent++;
    this.wakeOne(queue.receivers);
  }

  /** Wait for a message that is not expired and take it (oldest or newest, per the order). */
  private async take(channel: string, options: ReceiveOptions | undefined): Promise<Stored> {
    const queue = this.queue(channel);
    const lifo = this.tradeoffs.orderOf(channel) === 'lifo';
    const next = (): Stored | undefined => {
      this.dropExpired(queue);
      return lifo ? queue.messages.pop() : queue.messages.shift();
    };
    let stored = next();
    if (stored === undefined) {
      await this.park(queue.receivers, `receive('${channel}')`, options, () => (stored = next()) !== undefined);
    }
    this.wakeOne(queue.senders);
    return stored as unknown as Stored;
  }

  private takeOldest(queue: Queue): void {
    queue.messages.shift();
  }

  private dropExpired(queue: Queue): void {
    const now = Date.now();
    const before = queue.messages.length;
    if (before === 0) return;
    const kept = queue.messages.filter((m) => m.expiresAt > now);
    if (kept.length !== before) {
      this.noteExpired(before - kept.length, queue.name);
      queue.messages = kept;
      this.wakeAll(queue.senders);
    }
  }

  /**
   * Park on `list` until `ready()` returns true when woken, or the wait ends (timeout,
   * abort, close). `ready` is checked on each wake-up; a waiter woken for nothing parks again.
   */
  private park(list: Parked[], what: string, options: ReceiveOptions | undefined, ready: () => boolean): Promise<void> {
    if (options?.timeout === 0) return Promise.reject(new TimeoutError(what, 0));
    const scope = new WaitScope(what, options, this.closeSignal);
    return new Promise<void>((resolve, reject) => {
      const parked: Parked = {
        wake: () => {
          if (!ready()) {
            list.push(parked);
            return;
          }
          scope.dispose();
          resolve();
        },
      };
      if (scope.ended) {
        scope.dispose();
        reject(scope.error());
        return;
      }
      list.push(parked);
      scope.signal.addEventListener('abort', () => {
        const i = list.indexOf(parked);
        if (i >= 0) list.splice(i, 1);
        scope.dispose();
        reject(scope.error());
      }, { once: true });
    });
  }

  private wakeOne(list: Parked[]): void {
    list.shift()?.wake();
  }

  private wakeAll(list: Parked[]): void {
    for (const parked of list.splice(0)) parked.wake();
  }
}

/** A lease of the memory layer: settles once; expires after `leaseTimeout`. */
class MemoryLease implements Lease {
  readonly deliveries: number;
  private held = true;
  private readonly timer: LongTimer;

  constructor(
    private readonly layer: MemoryLayer,
    private readonly channel: string,
    private readonly stored: Stored,
    readonly message: Message,
  ) {
    this.deliveries = stored.deliveries;
    this.timer = longTimeout(() => {
      if (this.release()) this.layer.requeue(this.channel, this.stored, this);
    }, layer.leaseTimeoutMs).unref();
  }

  // Arrow properties: `const { message, ack } = await layer.receiveLease(ch)` must work.
  readonly ack = async (): Promise<boolean> => {
    if (!this.release()) return false;
    this.layer.settle(this);
    return true;
  };

  readonly nack = async (): Promise<boolean> => {
    if (!this.release()) return false;
    this.layer.requeue(this.channel, this.stored, this);
    return true;
  };

  /** Drop the lease without effect (flush, close). */
  expire(): void {
    this.release();
  }

  private release(): boolean {
    if (!this.held) return false;
    this.held = false;
    this.timer.clear();
    return true;
  }
}
