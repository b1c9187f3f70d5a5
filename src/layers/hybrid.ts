/**
 * The hybrid layer: one bus per machine (process) whose threads talk through shared memory,
 * and machines (and Django, and Redis-backend processes) joined through Redis in
 * channels_redis' format. Create it with `createLayer({ backend: 'hybrid', hosts })`; worker
 * threads attach to `layer.handle` exactly as to a shared layer, and `createPool` works.
 *
 * Where each operation goes:
 *
 * | operation | this machine's channels | everything else |
 * |---|---|---|
 * | send | shared memory only | Redis (one script call) |
 * | receive | shared memory | Redis (plain channels: one queue over all machines) |
 * | groupSend | shared memory, encoded once | Redis, one stored message per key |
 *
 * "This machine's channels" are the process-specific channels its instances make
 * (`<prefix>.<bus>!<instance><random>`: the owner part names the bus, so the whole machine
 * reads one Redis key per channel prefix, as one channels_redis process does) and the plain
 * channels matched by the `localChannels` option. A send from another machine to one of
 * them arrives in the bus' Redis key, where the creator's {@link BusRouter} pops it and
 * delivers it into shared memory. Each instance receives on the `!` channels it made itself
 * (the part after `!` starts with its instance tag), as on the shared backend.
 *
 * Groups: membership lives in Redis in channels_redis' format (a Django `group_send` reaches
 * Node members and the other way round); members matched by `localChannels` live in the
 * machine's shared-memory group instead (they are machine-local), and a group whose own
 * name matches `localChannels` lives in shared memory only (its sends never ask Redis). A
 * groupSend runs one script (GROUP_SEND_LOCAL, src/redis/scripts.ts) that reads the group,
 * stores one message per key of other owners, and returns this machine's members, which
 * then get the message through shared memory: encoded once, never a second copy through
 * Redis. (On a ring, with encryption or per-channel patterns: one call reads the group, one
 * per shard stores.)
 *
 * How an attached worker reaches Redis: with its own connections, opened lazily at its first
 * remote operation. Forwarding through shared memory to the creator was the alternative; it
 * was not chosen because it adds a hop (and a second copy) to every remote operation, makes
 * the creator's event loop the bottleneck of every thread's remote traffic and a single point
 * whose stall stalls them all, and needs its own reply protocol for errors and stats. A
 * connection per thread costs Redis a few kilobytes; threads that only talk locally open none.
 * Only the bus' keys have a single reader (the router), since one reader per key is what
 * keeps each channel's order.
 *
 * Knobs: capacity, expiry, group expiry, order, at-least-once delivery, the wait strategy
 * mean what they mean on the shared backend (local channels) and on the Redis backend
 * (remote ones). Refused: `full` other than `'reject'` on process-specific channels (they
 * share one Redis key per machine, see {@link SPECIFIC_FULL}); `channelFull` may give plain
 * channels any policy. `flush` empties this machine's bus and every key of the prefix in
 * Redis (other machines' shared memory is theirs).
 *
 * @module
 */

import { quote } from '../quote.js';
import { NotOwner, Unsupported } from '../errors.js';
import type { LayerEvent, LayerEventListener } from '../events.js';
import {
  assertChannelPrefix,
  assertOptionsObject,
  ownerPart,
  resolveTradeoffs,
  type Borrowed,
  type LayerStats,
  type Lease,
  type Message,
  type MessageShape,
  type ReceiveManyOptions,
  type ReceiveOptions,
  type SendOptions,
} from '../layer.js';
import { shardIndex } from '../redis/crc32.js';
import { LayerBase, randomHex } from './base.js';
import { HybridRemote } from './hybrid/remote.js';
import { BusRouter, CONTROL_CHANNEL } from './hybrid/router.js';
import { SPECIFIC_FULL, splitHybridOptions, type HybridLayerHandle, type HybridLayerOptions, type SplitHybridOptions } from './hybrid/options.js';
import { SharedLayer, type SharedMemoryStats, type WatchableWorker } from './shared.js';

export type { HybridLayerHandle, HybridLayerOptions } from './hybrid/options.js';

/** The hybrid layer; see the module comment. */
export class HybridLayer extends LayerBase {
  /** `groups` and `flush`, and `leases` under at-least-once delivery. */
  readonly extensions: readonly string[];
  /** Pass this to another thread (workerData / postMessage) and call `attachLayer` there. */
  readonly handle: HybridLayerHandle;
  /** This machine's bus id: the owner part of its process-specific channel names. */
  readonly bus: string;
  private readonly local: SharedLayer;
  private readonly remote: HybridRemote;
  private readonly split: SplitHybridOptions;
  /** `.<bus>!`: the end of the owner part of this machine's channels. */
  private readonly suffix: string;
  /** This instance's tag: its `!` channels' names continue with it after the `!`. */
  private readonly tag: string;
  /** Channel prefixes this instance announced to the router. */
  private readonly announced = new Set<string>();
  /** True when `channelFull` patterns exist (then `!` channels are checked at each send). */
  private readonly checkSpecificFull: boolean;
  private readonly fullOf: (channel: string) => string;
  private readonly router: BusRouter | null;

  private constructor(bus: string, options: HybridLayerOptions, local: SharedLayer, remote: HybridRemote, router: boolean) {
    super(bus);
    this.bus = bus;
    this.split = splitHybridOptions(options);
    this.local = local;
    this.remote = remote;
    this.suffix = `.${bus}!`;
    this.tag = randomHex(4);
    const tradeoffs = resolveTradeoffs(options);
    this.fullOf = tradeoffs.fullOf;
    this.checkSpecificFull = options.channelFull !== undefined;
    this.extensions = tradeoffs.delivery === 'at-least-once' ? ['groups', 'flush', 'leases'] : ['groups', 'flush'];
    this.handle = { ...local.handle, hybrid: { bus, options } };
    this.router = router ? new BusRouter(local, remote, bus) : null;
    this.router?.start();
    if (this.router !== null) this.announced.add('specific');
  }

  /**
   * Create this machine's bus and connect to every Redis server (each within
   * `operationTimeout`). Rejects with ConnectionError when a server cannot be reached,
   * TypeError for a bad option, Unsupported for a knob that cannot hold across machines.
   */
  static async create(options: HybridLayerOptions = {}): Promise<HybridLayer> {
    assertOptionsObject('the hybrid backend', options);
    const split = splitHybridOptions(options);
    const bus = randomHex(6);
    const remote = new HybridRemote(split.redis, bus);
    let local: SharedLayer | undefined;
    try {
      local = SharedLayer.create(split.shared, bus);
      await remote.connectAll();
    } catch (err) {
      await remote.close();
      await local?.close();
      throw err;
    }
    return new HybridLayer(bus, options, local, remote, true);
  }

  /** Attach to the bus of `handle` (from a hybrid layer's `handle`), in this thread. */
  static attach(handle: HybridLayerHandle): HybridLayer {
    const hybrid = (handle as Partial<HybridLayerHandle> | null)?.hybrid;
    if (hybrid === undefined || hybrid === null || typeof hybrid.bus !== 'string') {
      throw new TypeError(`invalid handle ${quote(handle)}: expected the object of a hybrid layer's \`handle\``);
    }
    const split = splitHybridOptions(hybrid.options ?? {});
    const local = SharedLayer.attach(handle, hybrid.bus);
    // Lazy: the connections open at this instance's first remote operation.
    const remote = new HybridRemote(split.redis, hybrid.bus);
    return new HybridLayer(hybrid.bus, hybrid.options ?? {}, local, remote, false);
  }

  protected override get leases(): boolean {
    return this.extensions.includes('leases');
  }

  /** True for the channels of this machine: its `!` channels and the `localChannels`. */
  private isHere(channel: string): boolean {
    const bang = channel.indexOf('!');
    if (bang < 0) return channel === CONTROL_CHANNEL || (this.split.hasLocal && this.split.isLocal(channel));
    return channel.startsWith(this.suffix, bang + 1 - this.suffix.length);
  }

  /** The refusal of a full policy other than 'reject' on a `!` channel, or null. */
  private specificFullError(channel: string): Unsupported | null {
    if (!this.checkSpecificFull || channel.indexOf('!') < 0) return null;
    const policy = this.fullOf(channel);
    return policy === 'reject' ? null : new Unsupported(`send('${channel}'): channelFull gives it '${policy}', but ${SPECIFIC_FULL}`);
  }

  /**
   * True when this instance may receive on `channel`: every plain channel, and the `!`
   * channels its own `newChannel()` made.
   */
  override owns(channel: string): boolean {
    const owner = ownerPart(channel);
    return owner === channel || (owner.endsWith(this.suffix) && channel.startsWith(this.tag, owner.length));
  }

  // ---- send / receive ------------------------------------------------------------------

  /** {@inheritDoc ChannelLayer.send} */
  override send<T extends MessageShape<T>>(channel: string, message: T, options?: SendOptions): Promise<void> {
    if (typeof channel !== 'string') return this.local.send(channel, message, options); // its TypeError
    const refused = this.specificFullError(channel);
    if (refused !== null) return Promise.reject(refused);
    return this.isHere(channel) ? this.local.send(channel, message, options) : this.remote.send(channel, message, options);
  }

  /** {@inheritDoc ChannelLayer.receive} */
  override receive<T extends MessageShape<T> = Message>(channel: string, options?: ReceiveOptions): Promise<T> {
    const to = this.receiverOf(channel);
    return to instanceof NotOwner ? Promise.reject(to) : to.receive<T>(channel, options);
  }

  /** {@inheritDoc ChannelLayer.receiveBorrowed} */
  override receiveBorrowed<T extends MessageShape<T> = Message>(channel: string, options?: ReceiveOptions): Promise<Borrowed<T>> {
    const to = this.receiverOf(channel);
    return to instanceof NotOwner ? Promise.reject(to) : to.receiveBorrowed<T>(channel, options);
  }

  /** {@inheritDoc ChannelLayer.receiveLease} */
  override receiveLease<T extends MessageShape<T> = Message>(channel: string, options?: ReceiveOptions): Promise<Lease<T>> {
    const to = this.receiverOf(channel);
    return to instanceof NotOwner ? Promise.reject(to) : to.receiveLease<T>(channel, options);
  }

  // The synchronous and batched calls go where send / receive go. On channels of other
  // machines (Redis) trySend / tryReceive throw Unsupported: every answer is a round trip.

  /** {@inheritDoc ChannelLayer.trySend} */
  override trySend<T extends MessageShape<T>>(channel: string, message: T): boolean {
    if (typeof channel !== 'string') return this.local.trySend(channel, message); // its TypeError
    const refused = this.specificFullError(channel);
    if (refused !== null) throw refused;
    return this.isHere(channel) ? this.local.trySend(channel, message) : this.remote.trySend(channel, message);
  }

  /** {@inheritDoc ChannelLayer.tryReceive} */
  override tryReceive<T extends MessageShape<T> = Message>(channel: string): T | undefined {
    const to = this.receiverOf(channel);
    if (to instanceof NotOwner) throw to;
    return to.tryReceive<T>(channel);
  }

  /** {@inheritDoc ChannelLayer.sendMany} */
  override sendMany<T extends MessageShape<T>>(channel: string, messages: readonly T[], options?: SendOptions): Promise<void> {
    if (typeof channel !== 'string') return this.local.sendMany(channel, messages, options); // its TypeError
    const refused = this.specificFullError(channel);
    if (refused !== null) return Promise.reject(refused);
    return this.isHere(channel) ? this.local.sendMany(channel, messages, options) : this.remote.sendMany(channel, messages, options);
  }

  /** {@inheritDoc ChannelLayer.receiveMany} */
  override receiveMany<T extends MessageShape<T> = Message>(channel: string, options?: ReceiveManyOptions): Promise<T[]> {
    const to = this.receiverOf(channel);
    return to instanceof NotOwner ? Promise.reject(to) : to.receiveMany<T>(channel, options);
  }

  protected doTrySend(channel: string, message: Message): boolean {
    return this.trySend(channel, message);
  }

  protected doTryReceive(channel: string): Message | undefined {
    return this.tryReceive(channel);
  }

  /** Not reached: `sendMany` above routes before LayerBase's checks. */
  protected doSendMany(channel: string, _encoded: readonly Uint8Array[], _options: SendOptions | undefined): Promise<void> {
    return Promise.reject(new Error(`HybridLayer.doSendMany('${channel}') is not used: sendMany routes to its local or remote layer`));
  }

  protected doReceiveMany(channel: string, _max: number, options: ReceiveManyOptions | undefined): Promise<Message[]> {
    return this.receiveMany(channel, options);
  }

  /** `listen` drains with tryReceive on this machine's channels only (the others are Redis'). */
  protected override listenTake(channel: string): (() => Message | undefined) | null {
    return this.isHere(channel) ? () => this.tryReceive(channel) : null;
  }

  /**
   * Where a receive on `channel` goes: this machine's shared layer (also for a name that is no
   * string, or once closed, so that its checks answer), the remote layer for a channel of
   * another bus or a plain channel not kept local, or a NotOwner error for another instance's
   * `!` channel of this bus.
   */
  private receiverOf(channel: string): SharedLayer | HybridRemote | NotOwner {
    if (typeof channel !== 'string' || this.closed) return this.local;
    if (!this.isHere(channel)) return this.remote;
    return this.owns(channel) ? this.local : this.notOwner(channel);
  }

  private notOwner(channel: string): NotOwner {
    return new NotOwner(
      channel,
      `process-specific channels are received only by the layer instance whose newChannel() made them ` +
        `(this instance's names look like '<prefix>.${this.bus}!${this.tag}...')`,
    );
  }

  protected doSend(channel: string, message: Message, options: SendOptions | undefined): Promise<void> {
    return this.send(channel, message, options);
  }

  protected doReceive(channel: string, options: ReceiveOptions | undefined): Promise<Message> {
    return this.receive(channel, options);
  }

  protected override doReceiveLease(channel: string, options: ReceiveOptions | undefined): Promise<Lease> {
    return this.receiveLease(channel, options);
  }

  /**
   * A new process-specific channel, `<prefix>.<bus>!<instance tag><random>`, received by
   * this instance. On a ring of servers the random part is drawn until the full name hashes
   * to the server of its owner part (see the Redis backend), so channels_redis' direct sends
   * reach it too.
   */
  override async newChannel(prefix = 'specific'): Promise<string> {
    this.assertOpen('newChannel');
    assertChannelPrefix(prefix);
    if (!this.announced.has(prefix)) await this.announce(prefix);
    const n = this.remote.serverCount;
    for (;;) {
      const name = `${prefix}${this.suffix}${this.tag}${randomHex(4)}`;
      if (n === 1 || shardIndex(name, n) === shardIndex(ownerPart(name), n)) return name;
    }
  }

  /** Tell the router to read the key of `prefix` (see src/layers/hybrid/router.ts). */
  private async announce(prefix: string): Promise<void> {
    if (this.router !== null) this.router.watch(prefix);
    else await this.local.send(CONTROL_CHANNEL, { prefix });
    this.announced.add(prefix);
  }

  // ---- groups --------------------------------------------------------------------------

  private isLocalPlain(channel: string): boolean {
    return this.split.hasLocal && channel.indexOf('!') < 0 && this.split.isLocal(channel);
  }

  /** A group whose name matches `localChannels` is machine-local: shared memory only. */
  private isLocalGroup(group: string): boolean {
    return this.split.hasLocal && this.split.isLocal(group);
  }

  protected async doGroupAdd(group: string, channel: string): Promise<void> {
    if (this.isLocalGroup(group)) {
      if (!this.isHere(channel)) {
        throw new TypeError(
          `invalid member '${channel}' for groupAdd('${group}'): the group matches localChannels, so it lives on this ` +
            `machine only, and only this machine's channels (its newChannel() names and its localChannels) can join it`,
        );
      }
      return this.local.groupAdd(group, channel);
    }
    return this.isLocalPlain(channel) ? this.local.groupAdd(group, channel) : this.remote.groupAdd(group, channel);
  }

  protected async doGroupDiscard(group: string, channel: string): Promise<void> {
    if (this.isLocalGroup(group) || this.isLocalPlain(channel)) return this.local.groupDiscard(group, channel);
    return this.remote.groupDiscard(group, channel);
  }

  protected async doGroupSend(group: string, message: Message): Promise<void> {
    if (this.isLocalGroup(group)) return this.local.groupSend(group, message);
    const body = this.remote.encodeMessage(message);
    // Members matched by localChannels are in this machine's shared-memory group.
    const localGroup = this.split.hasLocal ? this.local.groupSend(group, message) : undefined;
    const own = await this.remote.groupSendOutside(group, body);
    if (own.length > 0) this.local.deliverEncoded(own, body, Date.now(), group);
    await localGroup;
  }

  // ---- whole bus -----------------------------------------------------------------------

  protected async doFlush(): Promise<void> {
    await Promise.all([this.local.flush(), this.remote.flush()]);
  }

  /**
   * This instance's counters (its shared-memory and Redis sides together; the creator's
   * include what its router delivered and dropped), the depths of this machine's channels,
   * and the depths of Redis channels as this instance last saw them.
   */
  override stats(): LayerStats {
    const a = this.local.stats();
    const b = this.remote.stats();
    delete a.depths[CONTROL_CHANNEL]; // the router's own channel (see hybrid/router.ts)
    // Every counter of both sides summed, whatever counters LayerStats has.
    const sum: Record<string, unknown> = { ...a };
    for (const [key, value] of Object.entries(b)) {
      if (typeof value === 'number') sum[key] = (typeof sum[key] === 'number' ? (sum[key] as number) : 0) + value;
    }
    sum.depths = { ...b.depths, ...a.depths };
    return sum as unknown as LayerStats;
  }

  protected depths(): Record<string, number> {
    return this.stats().depths;
  }

  /**
   * Call `listener` for every message this instance drops, finds expired or hands out again,
   * on its shared-memory and Redis sides alike (see {@link LayerEvent}); the creator's
   * listeners also hear what its bus router drops. Returns a function that removes it.
   */
  override onEvent(listener: LayerEventListener): () => void {
    const stops = [super.onEvent(listener), this.local.onEvent(listener), this.remote.onEvent(listener)];
    return () => {
      for (const stop of stops) stop();
    };
  }

  /** The shared region's accounting (see {@link SharedLayer.memoryStats}). */
  memoryStats(): SharedMemoryStats {
    return this.local.memoryStats();
  }

  /** As {@link SharedLayer.watch}: a dead worker's leases go back at once. */
  watch(worker: WatchableWorker): Promise<number> {
    return this.local.watch(worker);
  }

  protected async doClose(): Promise<void> {
    this.router?.close();
    await this.remote.close();
    await this.local.close();
  }
}
