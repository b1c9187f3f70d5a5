/**
 * The Redis layer: the ringbus API over one or several Redis servers, wire-compatible with
 * Python's channels_redis 4.x, so that Node and Django Channels processes share channels
 * and groups. Key layout, member bytes, scores and sharding are those of channels_redis
 * (see docs/redis.md); where channels_redis is wrong this layer is right:
 *
 * - a direct send to a `!` channel goes to the server its owner listens on (the hash of
 *   the name up to `!`), not the hash of the full name;
 * - messages older than `expiry` are never delivered (checked again on receive);
 * - no `$inflight` backup keys: a popped message is handed over once (a receiver that
 *   leaves before it arrives puts it back at its original place), so nothing is
 *   delivered twice;
 * - a group send is one script call on a single server (it reads the group and stores for
 *   every member key), else one call to read the group and one per shard, with capacity
 *   checked per member key.
 *
 * At-least-once delivery (plain channels): leases live on the server next to the channel
 * key, taken, settled and reclaimed by atomic scripts (src/redis/leases.ts).
 *
 * Receiving: one {@link Reader} per (server, key) pops for every local receiver of that
 * key. Plain channels are read on every server (senders spread them round-robin);
 * process-specific channels of this instance are read from their owner key on its shard,
 * and each message is routed by its `__asgi_channel__` field to the local channel(s)
 * named there; messages for a local channel nobody waits on yet are buffered in this
 * process (up to that channel's capacity), since nobody else may receive them. From the
 * first receive on an owner's channels until close, that owner key is read ahead: one
 * stored message at a time whenever nothing is buffered (see resumeReadAhead), so the
 * round trip of the pop overlaps the sender's; close() wakes that pop before the sockets
 * close and reports what is left unreceived (DropReason 'closed').
 *
 * @module
 */

import { ChannelFull, ConnectionError, MessageTooLarge, TimeoutError, UnconfirmedSend, Unsupported } from '../errors.js';
import {
  assertOptionsObject, isProcessSpecific, ownerPart, type Lease, type Message, type ReceiveManyOptions, type ReceiveOptions,
  type SendOptions, type WaitOptions,
} from '../layer.js';
import { shardIndex } from '../redis/crc32.js';
import { RedisServer, isUnconfirmed } from '../redis/host.js';
import { resolveRedisOptions, type RedisLayerOptions, type ResolvedRedisOptions } from '../redis/options.js';
import { leaseKeys, RedisLease } from '../redis/leases.js';
import { Reader, type ReaderOwner } from '../redis/reader.js';
import { decode } from '../codec.js';
import { copyMessage, encodeBody, makeMember, mapHeader, nextScore, nowSeconds, randomPrefix, unpackMember, withRouting, type Unpacked } from '../redis/wire.js';
import { WaitScope } from '../wait.js';
import { LayerBase, partialSend, randomHex } from './base.js';

/** A local receiver waiting for a message. */
interface Waiter {
  deliver(message: Message): void;
}

/** A message that reached this process for a local channel before anyone asked for it. */
interface Buffered {
  message: Message;
  /** The sender's time, epoch seconds. */
  score: number;
}

/** Local state of one channel: who waits, and what is buffered (process-specific channels only). */
interface Inbox {
  waiters: Waiter[];
  buffer: Buffered[];
}

/**
 * Per owner part of this instance's `!` channels (`<prefix>.<client>!`): how many messages
 * its channels' local buffers hold, and whether its key is read ahead (from the first
 * receive on one of its channels until close).
 */
interface OwnerState {
  buffered: number;
  readAhead: boolean;
}

/** How long close() waits for a parked pop of an own key to be woken and to come back. */
const STOP_READER_MS = 1000;

/** Channels whose last seen depth `stats()` remembers (a bound for services that send to many). */
const MAX_DEPTHS_SEEN = 10_000;

/** Most members one pop takes from this instance's own `!` key. */
const OWNER_BATCH = 64;

/** Escape the glob characters of Redis' MATCH so that the prefix matches itself only. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\^]/g, '\\$&');
}

/**
 * The Redis layer, wire-compatible with Python's channels_redis 4.x. Create it with
 * `createLayer({ backend: 'redis', hosts: [...] })`.
 *
 * Process lifetime: the layer's connections keep the process alive until `close()`.
 */
export class RedisLayer extends LayerBase {
  /** `groups` and `flush` (the ASGI extensions channels_redis offers), and `leases` under at-least-once delivery. */
  readonly extensions: readonly string[];
  protected readonly options: ResolvedRedisOptions;
  protected readonly servers: RedisServer[];
  private readonly inboxes = new Map<string, Inbox>();
  private readonly readers = new Map<string, Reader>();
  /** Waiters per owner part (`<prefix>.<client>!`), the demand of owner-key readers. */
  private readonly specificDemand = new Map<string, number>();
  private readonly owners = new Map<string, OwnerState>();
  /** The readers of this instance's own `!` keys (stopped before close, see doClose). */
  private readonly ownerReaders = new WeakSet<Reader>();
  /** Last depth of each channel's key this instance saw (send replies, minus its own pops). */
  private readonly depthSeen = new Map<string, number>();
  private sendCursor = 0;
  private pollCursor = 0;
  private readonly warned = new Set<string>();

  /**
   * Connect to every server (each within `operationTimeout`) and return the layer.
   * Rejects with ConnectionError when a server cannot be reached, TypeError for a bad
   * option, Unsupported for a trade-off this backend does not offer.
   */
  static async create(options: RedisLayerOptions = {}): Promise<RedisLayer> {
    const layer = new RedisLayer(options);
    try {
      await Promise.all(layer.servers.map((s) => s.connect('createLayer')));
    } catch (err) {
      await layer.close();
      throw err;
    }
    return layer;
  }

  /**
   * Use {@link RedisLayer.create} (it connects before resolving).
   * @param options see {@link RedisLayerOptions}
   * @param clientId the owner id in this instance's `newChannel()` names (random when omitted)
   */
  constructor(options: RedisLayerOptions = {}, clientId?: string) {
    super(clientId);
    assertOptionsObject('the redis backend', options);
    this.options = resolveRedisOptions(options);
    const expiryMs = this.options.common.expiryMs;
    this.expirySec = expiryMs / 1000;
    this.ttlMs = Math.ceil(expiryMs + Math.max(expiryMs, 10_000));
    this.tokenTtl = this.expirySec + 10;
    this.servers = this.options.hosts.map((h) => new RedisServer(h, this.options.operationTimeout));
    this.extensions = this.leases ? ['groups', 'flush', 'leases'] : ['groups', 'flush'];
  }

  protected override get leases(): boolean {
    return this.options.tradeoffs.delivery === 'at-least-once';
  }

  // The random part is drawn until the full name hashes to the same server as its owner part:
  // channels_redis sends directly to a `!` channel on the server of its *full* name (its issue
  // #221) while the owner reads the server of the owner part; with names chosen this way both
  // are the same server. (About `hosts.length` draws on average; one for a single server.)
  /**
   * A new process-specific channel name owned by this layer instance,
   * `'<prefix>.<client>!<random>'`. Python channels_redis processes on the same hosts reach it
   * too, also on a ring of several servers (see docs/redis.md).
   */
  override async newChannel(prefix = 'specific'): Promise<string> {
    for (;;) {
      const name = await super.newChannel(prefix);
      if (this.servers.length === 1 || shardIndex(name, this.servers.length) === this.shardOf(name)) return name;
    }
  }

  // -------------------------------------------------------------------------------------
  // Keys and shards

  protected key(channel: string): string {
    return this.options.prefix + ownerPart(channel);
  }

  protected groupKey(group: string): string {
    return `${this.options.prefix}:group:${group}`;
  }

  /** Where the messages of a `!` channel (or a group member) live: the hash of its owner part. */
  protected shardOf(name: string): number {
    return shardIndex(ownerPart(name), this.servers.length);
  }

  protected server(index: number): RedisServer {
    return this.servers[index] as RedisServer;
  }

  private isExpired(score: number): boolean {
    return (nowSeconds() - score) * 1000 > this.options.common.expiryMs;
  }

  /** Fernet tokens older than this, in seconds, are refused (channels_redis: expiry + 10 s). */
  protected readonly tokenTtl: number;
  /** `expiry` in seconds (scores are epoch seconds). */
  protected readonly expirySec: number;

  // -------------------------------------------------------------------------------------
  // send

  protected encode(message: Message): Buffer {
    const body = encodeBody(message);
    if (body.length > this.options.maxMessageSize) throw new MessageTooLarge(body.length, this.options.maxMessageSize);
    return body;
  }

  protected async doSend(channel: string, message: Message, options: SendOptions | undefined): Promise<void> {
    const body = this.encode(message);
    const specific = isProcessSpecific(channel);
    if (specific && this.owns(channel)) return this.sendToSelf(channel, body, options);
    const member = makeMember(specific ? withRouting(body, channel) : body, this.options.crypter);
    const n = this.servers.length;
    const index = specific ? this.shardOf(channel) : n === 1 ? 0 : this.sendCursor++ % n;
    const capacity = this.options.common.capacityOf(channel);
    const policy = this.options.tradeoffs.fullOf(channel);
    const what = `send('${channel}')`;
    const attempt = async (): Promise<boolean> => {
      const score = nextScore();
      const [status, expired, depth] = await this.server(index).run(what, (c) =>
        c.rbSend(this.key(channel), member, score, score - this.expirySec, capacity, this.ttlMs, policy),
      );
      this.noteExpired(expired, channel);
      if (status < 0) return false;
      this.noteDropped(status, channel, 'drop-oldest');
      this.counters.sent++;
      this.rememberDepth(channel, depth);
      return true;
    };
    const once = async (): Promise<void> => {
      try {
        if (await attempt()) return;
        if (policy !== 'wait') throw new ChannelFull(channel, capacity);
        await this.waitForRoom(what, options, attempt);
      } catch (err) {
        // Written, no reply: the same member again is found by the send script if it is
        // still queued (a sorted set holds a member once), so a retry adds no duplicate.
        if (isUnconfirmed(err)) throw new UnconfirmedSend(err.message, channel, once, err.cause);
        throw err;
      }
    };
    return once();
  }

  /**
   * `full: 'wait'`: try again until there is room, the caller's timeout or signal ends the
   * wait, or the layer closes.
   */
  private async waitForRoom(what: string, options: SendOptions | undefined, attempt: () => Promise<boolean>): Promise<void> {
    await this.pollUntil(what, options, async () => ((await attempt()) ? true : undefined));
  }

  /**
   * A send to one of this instance's own `!` channels: only this instance may receive it,
   * so it goes straight into the channel's local buffer (a fresh copy of the message, from
   * its encoding), without a trip through Redis and back. The channel's capacity and full
   * policy apply to that buffer.
   */
  private async sendToSelf(channel: string, body: Buffer, options: SendOptions | undefined): Promise<void> {
    const message = decode(body) as Message;
    const attempt = async (): Promise<boolean> => {
      if (!this.pushOwn(channel, message, nowSeconds())) return false;
      this.counters.sent++;
      return true;
    };
    if (await attempt()) return;
    const policy = this.options.tradeoffs.fullOf(channel);
    if (policy !== 'wait') throw new ChannelFull(channel, this.options.common.capacityOf(channel));
    await this.waitForRoom(`send('${channel}')`, options, attempt);
  }

  /**
   * Hand `message` to a receiver of own channel `channel` or buffer it; false when the
   * buffer holds `capacity` fresh messages and the policy is not 'drop-oldest' (which evicts
   * the oldest instead, counted in `dropped`).
   */
  private pushOwn(channel: string, message: Message, score: number): boolean {
    const inbox = this.inbox(channel);
    const waiter = inbox.waiters.shift();
    if (waiter !== undefined) {
      waiter.deliver(message);
      return true;
    }
    while (inbox.buffer.length > 0 && this.isExpired((inbox.buffer[0] as Buffered).score)) {
      this.unbuffer(channel, inbox);
      this.noteExpired(1, channel);
    }
    const capacity = this.options.common.capacityOf(channel);
    if (inbox.buffer.length >= capacity) {
      if (this.options.tradeoffs.fullOf(channel) !== 'drop-oldest') {
        this.forgetIfIdle(channel, inbox);
        return false;
      }
      this.unbuffer(channel, inbox);
      this.noteDropped(1, channel, 'drop-oldest');
    }
    this.buffer(channel, inbox, { message, score });
    return true;
  }

  /**
   * Call `attempt` until it gives a value, the caller's timeout or signal ends the wait, or
   * the layer closes. For the waits Redis cannot wake (a sender waiting for room, a lease
   * taker waiting for a message): the retries back off from 2 ms to 50 ms, so a waiter
   * costs at most 20 small scripts a second.
   */
  private async pollUntil<T>(what: string, options: WaitOptions | undefined, attempt: () => Promise<T | undefined>): Promise<T> {
    if (options?.timeout === 0) throw new TimeoutError(what, 0);
    this.counters.waits++;
    const scope = new WaitScope(what, options, this.closeSignal);
    try {
      for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, delay);
          function done() {
            clearTimeout(timer);
            scope.signal.removeEventListener('abort', done);
            resolve();
          }
          scope.signal.addEventListener('abort', done, { once: true });
        });
        if (scope.ended) throw scope.error();
        const value = await attempt();
        if (value !== undefined) return value;
      }
    } finally {
      scope.dispose();
    }
  }

  // -------------------------------------------------------------------------------------
  // at-least-once (leases)

  /**
   * Take the next message of a plain channel under a lease, from any server of the ring;
   * wait (polling, see pollUntil) when there is none. Process-specific channels are not
   * offered: their messages share their owner's key and would have to be leased by route.
   */
  protected override async doReceiveLease(channel: string, options: ReceiveOptions | undefined): Promise<Lease> {
    if (isProcessSpecific(channel)) {
      throw new Unsupported(
        `receiveLease('${channel}'): the redis backend leases plain channels only (the messages of '!' ` +
          `channels share their owner's key); use receive() there`,
      );
    }
    const what = `receiveLease('${channel}')`;
    // Like a pending receive, a waiting lease taker rides out an outage: it keeps trying.
    const attempt = () =>
      this.takeLease(channel, what).catch((err: unknown) => {
        if (err instanceof ConnectionError) return undefined;
        throw err;
      });
    const lease = await attempt();
    return lease ?? this.pollUntil(what, options, attempt);
  }

  /** One pass over the servers: a lease on the first message found, or undefined. */
  private async takeLease(channel: string, what: string): Promise<Lease | undefined> {
    const { tradeoffs, prefix } = this.options;
    const keys = leaseKeys(this.key(channel), prefix + tradeoffs.deadLetterChannel);
    const maxDeliveries = Number.isFinite(tradeoffs.maxDeliveries) ? tradeoffs.maxDeliveries : 0;
    const ttl = this.ttlMs + tradeoffs.leaseTimeoutMs;
    const end = this.newestFirst(channel) ? 'max' : 'min';
    const n = this.servers.length;
    const start = this.pollCursor++ % n;
    for (let k = 0; k < n; k++) {
      const server = this.server((start + k) % n);
      for (;;) {
        const now = nowSeconds();
        const deadlineMs = Date.now() + tradeoffs.leaseTimeoutMs;
        const token = randomHex(8);
        const [member, , deliveries, expired] = await server.run(what, (c) =>
          c.rbLeaseTakeBuffer(
            keys.queue, keys.leases, keys.meta, keys.dead,
            now, now + tradeoffs.leaseTimeoutMs / 1000, now - this.expirySec, maxDeliveries, token, end, ttl,
          ),
        );
        this.noteExpired(expired, channel);
        for (let i = 0; i < expired; i++) this.seenPop(channel); // the script removed them from the key
        if (member === null || deliveries === null) break;
        const settle = (mode: 'ack' | 'nack') =>
          server
            .run(`lease.${mode}('${channel}')`, (c) =>
              c.rbLeaseSettle(keys.queue, keys.leases, keys.meta, keys.dead, member, token, mode, maxDeliveries, nowSeconds(), ttl),
            )
            .then((held) => held === 1);
        let message: Message;
        try {
          message = unpackMember(member, this.options.crypter, this.tokenTtl).message;
        } catch (err) {
          // Unreadable (no key opens it, bad bytes): settle it away rather than redeliver it forever.
          this.noteDropped(1, channel, 'undecodable');
          this.warn('decode', err);
          this.seenPop(channel);
          await settle('ack');
          continue;
        }
        this.seenPop(channel);
        this.counters.received++;
        return new RedisLease(message, deliveries, deadlineMs, settle);
      }
    }
    return undefined;
  }

  /** Keep the depth seen for `channel`; the oldest entries go beyond 10 000 channels. */
  private rememberDepth(channel: string, depth: number): void {
    this.depthSeen.delete(channel); // re-inserting moves it to the young end
    this.depthSeen.set(channel, depth);
    if (this.depthSeen.size > MAX_DEPTHS_SEEN) {
      this.depthSeen.delete(this.depthSeen.keys().next().value as string);
    }
  }

  /**
   * TTL of a channel key: `expiry` plus the larger of `expiry` and 10 s (channels_redis:
   * `expiry`). Messages never outlive `expiry` either way (their score is checked on send
   * and on receive); the longer TTL lets the next send or receive find stale messages and
   * count them in `stats().expired` instead of Redis dropping them unseen.
   */
  protected readonly ttlMs: number;

  // -------------------------------------------------------------------------------------
  // receive

  private inbox(channel: string): Inbox {
    let inbox = this.inboxes.get(channel);
    if (inbox === undefined) this.inboxes.set(channel, (inbox = { waiters: [], buffer: [] }));
    return inbox;
  }

  private forgetIfIdle(channel: string, inbox: Inbox): void {
    if (inbox.waiters.length === 0 && inbox.buffer.length === 0) this.inboxes.delete(channel);
  }

  private ownerState(owner: string): OwnerState {
    let state = this.owners.get(owner);
    if (state === undefined) this.owners.set(owner, (state = { buffered: 0, readAhead: false }));
    return state;
  }

  /** Append to the local buffer of `!` channel `channel` (counted per owner part). */
  private buffer(channel: string, inbox: Inbox, item: Buffered): void {
    inbox.buffer.push(item);
    this.ownerState(ownerPart(channel)).buffered++;
  }

  /** Take the oldest item of the local buffer of `!` channel `channel`. */
  private unbuffer(channel: string, inbox: Inbox): Buffered | undefined {
    const item = inbox.buffer.shift();
    if (item !== undefined) this.ownerState(ownerPart(channel)).buffered--;
    return item;
  }

  /**
   * Read-ahead: the key of an owner part is popped while a receiver waits on one of its
   * channels (as every key), and also while none of its channels has anything buffered,
   * one stored message at a time, so that the next message is in the process before it is
   * asked for. Restart that reader when the last buffered message of `channel`'s owner
   * part was taken.
   */
  private resumeReadAhead(channel: string): void {
    const state = this.owners.get(ownerPart(channel));
    if (state === undefined || !state.readAhead || state.buffered > 0 || this.closed) return;
    for (const reader of this.readersOf(channel, true)) reader.kick();
  }

  /** The oldest buffered message of `channel` that is still fresh. */
  private takeBuffered(channel: string): Message | undefined {
    const inbox = this.inboxes.get(channel);
    if (inbox === undefined) return undefined;
    let found: Message | undefined;
    while (found === undefined && inbox.buffer.length > 0) {
      const item = this.unbuffer(channel, inbox) as Buffered;
      if (this.isExpired(item.score)) this.noteExpired(1, channel);
      else found = item.message;
    }
    this.forgetIfIdle(channel, inbox);
    this.resumeReadAhead(channel);
    return found;
  }

  protected async doReceive(channel: string, options: ReceiveOptions | undefined, what = `receive('${channel}')`): Promise<Message> {
    const buffered = this.takeBuffered(channel);
    if (buffered !== undefined) {
      this.counters.received++;
      return buffered;
    }
    if (options?.timeout === 0) return this.receiveNow(channel);
    // LayerBase.receive has refused a closed layer and an aborted signal just before, and a
    // timeout fires from a timer: this scope cannot have ended yet.
    const scope = new WaitScope(what, options, this.closeSignal);
    const specific = isProcessSpecific(channel);
    const inbox = this.inbox(channel);
    return new Promise<Message>((resolve, reject) => {
      const waiter: Waiter = {
        deliver: (message) => {
          scope.dispose();
          this.removeDemand(channel, specific);
          this.counters.received++;
          resolve(message);
        },
      };
      inbox.waiters.push(waiter);
      this.counters.waits++;
      this.addDemand(channel, specific);
      scope.signal.addEventListener(
        'abort',
        () => {
          const i = inbox.waiters.indexOf(waiter);
          if (i < 0) return; // already delivered
          inbox.waiters.splice(i, 1);
          this.removeDemand(channel, specific);
          this.forgetIfIdle(channel, inbox);
          scope.dispose();
          reject(scope.error());
          for (const reader of this.readersOf(channel, false)) reader.release();
        },
        { once: true },
      );
      for (const reader of this.readersOf(channel, true)) reader.kick();
    });
  }

  private addDemand(channel: string, specific: boolean): void {
    if (!specific) return;
    const owner = ownerPart(channel);
    this.specificDemand.set(owner, (this.specificDemand.get(owner) ?? 0) + 1);
    this.ownerState(owner).readAhead = true;
  }

  private removeDemand(channel: string, specific: boolean): void {
    if (!specific) return;
    const owner = ownerPart(channel);
    const n = (this.specificDemand.get(owner) ?? 1) - 1;
    if (n <= 0) this.specificDemand.delete(owner);
    else this.specificDemand.set(owner, n);
  }

  /**
   * The readers that serve `channel` (created when `create`). A reader leaves the map when
   * its loop ends for want of demand, so channels received once do not pile up readers.
   */
  private readersOf(channel: string, create: boolean): Reader[] {
    const key = this.key(channel);
    const specific = isProcessSpecific(channel);
    const indexes = specific ? [this.shardOf(channel)] : this.servers.map((_, i) => i);
    const readers: Reader[] = [];
    for (const index of indexes) {
      const id = `${index}\n${key}`;
      let reader = this.readers.get(id);
      if (reader === undefined && create) {
        const owner = specific ? this.ownerKeyReader(index, ownerPart(channel)) : this.plainReader(index, channel);
        const made = new Reader(this.server(index), key, this.newestFirst(channel), {
          ...owner,
          idle: () => {
            if (this.readers.get(id) === made) this.readers.delete(id);
          },
        });
        if (specific) this.ownerReaders.add(made);
        this.readers.set(id, (reader = made));
      }
      if (reader !== undefined) readers.push(reader);
    }
    return readers;
  }

  private newestFirst(channel: string): boolean {
    // Every `!` channel of an owner shares one key, so the owner part's order applies to it.
    return this.options.tradeoffs.orderOf(isProcessSpecific(channel) ? ownerPart(channel) : channel) === 'lifo';
  }

  private plainReader(index: number, channel: string): Omit<ReaderOwner, 'idle'> {
    return {
      demand: () => (this.inboxes.get(channel)?.waiters.length ?? 0) > 0,
      // As many as are waiting: what is popped for nobody has to be put back.
      batch: () => this.inboxes.get(channel)?.waiters.length ?? 1,
      closed: () => this.closed,
      deliver: (member, score) => this.deliverPlain(index, channel, member, score),
      report: (err) => this.warn('receive', err),
    };
  }

  private ownerKeyReader(index: number, owner: string): Omit<ReaderOwner, 'idle'> {
    const waiting = () => (this.specificDemand.get(owner) ?? 0) > 0;
    const state = this.ownerState(owner);
    return {
      // Read ahead while nothing is buffered (see resumeReadAhead).
      demand: () => waiting() || (state.readAhead && state.buffered === 0),
      // The key is this instance's alone: take a batch, buffer what nobody waits for yet.
      // Read ahead takes one stored message: at most one per channel beyond the key's
      // capacity, so the channel's capacity still decides when senders are refused.
      batch: () => (waiting() ? OWNER_BATCH : 1),
      closed: () => this.closed,
      deliver: (member, score) => this.deliverSpecific(owner, member, score),
      report: (err) => this.warn('receive', err),
    };
  }

  /** Unpack a popped member; undefined (and counted) when it is unreadable or stale. */
  protected unpack(member: Buffer, score: number): Unpacked | undefined {
    if (this.isExpired(score)) {
      this.noteExpired(1, null);
      return undefined;
    }
    try {
      return unpackMember(member, this.options.crypter, this.tokenTtl);
    } catch (err) {
      this.noteDropped(1, null, 'undecodable');
      this.warn('decode', err);
      return undefined;
    }
  }

  /**
   * A member of owner key `owner` was popped and discarded (expired or unreadable): the
   * channels it was for no longer hold it. Only read for that (an unreadable one names none).
   */
  private seenDiscarded(owner: string, member: Buffer): void {
    if (this.depthSeen.size === 0) return;
    try {
      for (const c of unpackMember(member, this.options.crypter, this.tokenTtl).channels) {
        if (ownerPart(c) === owner) this.seenPop(c);
      }
    } catch {
      // unreadable: already counted as dropped by unpack
    }
  }

  private seenPop(channel: string): void {
    const depth = this.depthSeen.get(channel);
    if (depth !== undefined) {
      if (depth <= 1) this.depthSeen.delete(channel);
      else this.depthSeen.set(channel, depth - 1);
    }
  }

  private deliverPlain(index: number, channel: string, member: Buffer, score: number): void {
    const unpacked = this.unpack(member, score);
    if (unpacked === undefined) {
      this.seenPop(channel); // popped and discarded (expired or unreadable): no longer in the key
      return;
    }
    const inbox = this.inboxes.get(channel);
    const waiter = inbox?.waiters.shift();
    if (waiter === undefined) {
      // Its receiver left while the pop was under way: put it back where it was.
      if (!this.closed) {
        this.server(index)
          .run('unpop', (c) => c.rbUnpop(this.key(channel), member, score, this.ttlMs))
          .catch((err: unknown) => this.warn('unpop', err));
      }
      return;
    }
    this.seenPop(channel);
    waiter.deliver(unpacked.message);
  }

  private deliverSpecific(owner: string, member: Buffer, score: number): void {
    const unpacked = this.unpack(member, score);
    if (unpacked === undefined) {
      this.seenDiscarded(owner, member);
      return;
    }
    const targets = unpacked.channels.filter((c) => ownerPart(c) === owner);
    if (targets.length === 0) {
      this.noteDropped(1, owner, 'unroutable');
      this.warn('route', new Error(`a message on ${this.options.prefix}${owner} names no channel of this owner in __asgi_channel__`));
      return;
    }
    targets.forEach((channel, i) => {
      // Several local members of one group share a stored message: each gets its own copy.
      const message = i === targets.length - 1 ? unpacked.message : copyMessage(unpacked.message);
      this.seenPop(channel);
      this.deliverLocal(channel, message, score);
    });
  }

  private deliverLocal(channel: string, message: Message, score: number): void {
    const inbox = this.inbox(channel);
    const waiter = inbox.waiters.shift();
    if (waiter !== undefined) {
      waiter.deliver(message);
      return;
    }
    while (inbox.buffer.length > 0 && this.isExpired((inbox.buffer[0] as Buffered).score)) {
      this.unbuffer(channel, inbox);
      this.noteExpired(1, channel);
    }
    this.buffer(channel, inbox, { message, score });
    const capacity = this.options.common.capacityOf(channel);
    while (inbox.buffer.length > capacity) {
      this.unbuffer(channel, inbox);
      this.noteDropped(1, channel, 'drop-oldest');
    }
  }

  /** `timeout: 0`: take a message only if one is there now. */
  private async receiveNow(channel: string): Promise<Message> {
    const key = this.key(channel);
    const what = `receive('${channel}')`;
    const lifo = this.newestFirst(channel);
    const pop = (index: number) =>
      this.server(index).run(what, (c) => (lifo ? c.zpopmaxBuffer(key, 1) : c.zpopminBuffer(key, 1)));
    if (isProcessSpecific(channel)) {
      const index = this.shardOf(channel);
      for (;;) {
        const reply = await pop(index);
        if (reply.length < 2) break;
        this.deliverSpecific(ownerPart(channel), reply[0] as Buffer, Number((reply[1] as Buffer).toString()));
        const found = this.takeBuffered(channel);
        if (found !== undefined) {
          this.counters.received++;
          return found;
        }
      }
    } else {
      const n = this.servers.length;
      const start = this.pollCursor++ % n;
      for (let k = 0; k < n; k++) {
        const index = (start + k) % n;
        for (;;) {
          const reply = await pop(index);
          if (reply.length < 2) break;
          const unpacked = this.unpack(reply[0] as Buffer, Number((reply[1] as Buffer).toString()));
          if (unpacked === undefined) {
            this.seenPop(channel); // popped and discarded: no longer in the key
            continue;
          }
          this.seenPop(channel);
          this.counters.received++;
          return unpacked.message;
        }
      }
    }
    throw new TimeoutError(what, 0);
  }

  // -------------------------------------------------------------------------------------
  // synchronous and batched calls

  /** Every answer of Redis needs a round trip: there is no synchronous send. */
  protected doTrySend(channel: string, _message: Message): boolean {
    throw new Unsupported(
      `trySend('${channel}'): the redis backend answers nothing synchronously (every send is a round trip); ` +
        `use send() (it never waits under full: 'reject') or sendMany()`,
    );
  }

  /** Every answer of Redis needs a round trip: there is no synchronous receive. */
  protected doTryReceive(channel: string): Message | undefined {
    throw new Unsupported(
      `tryReceive('${channel}'): the redis backend answers nothing synchronously (every receive is a round trip); ` +
        `use receive(channel, { timeout: 0 }) or receiveMany(channel, { timeout: 0 })`,
    );
  }

  /** `listen` receives one message at a time here (no synchronous take). */
  protected override listenTake(): null {
    return null;
  }

  /**
   * One SEND_MANY script per attempt, on one server (plain channels: the next server of the
   * rotation for the whole batch; `!` channels: their owner's; this instance's own `!`
   * channels: no server, as for send). One over maxMessageSize stops the batch there (the
   * messages before it are sent). A connection lost mid-script rejects with the
   * ConnectionError, whose `sent` counts the messages confirmed queued before that round trip
   * (those of the unconfirmed one may or may not be queued).
   */
  protected async doSendMany(channel: string, encoded: readonly Uint8Array[], options: SendOptions | undefined): Promise<void> {
    const specific = isProcessSpecific(channel);
    const members: Buffer[] = [];
    let tooLarge: unknown;
    const limit = this.options.maxMessageSize;
    for (const bytes of encoded) {
      if (bytes.length > limit) {
        tooLarge = new MessageTooLarge(bytes.length, limit);
        break;
      }
      const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      members.push(makeMember(specific ? withRouting(body, channel) : body, this.options.crypter));
    }
    const deadline = options?.timeout === undefined ? undefined : Date.now() + options.timeout;
    let sent = 0;
    if (specific && this.owns(channel)) {
      // This instance's own channel: as send does, straight to its local receiver (so that
      // sends and batches to it keep their order), one message after the other.
      try {
        for (const bytes of encoded.slice(0, members.length)) {
          const timeout = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
          await this.sendToSelf(channel, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
            timeout, signal: options?.signal,
          });
          sent++;
        }
        if (tooLarge !== undefined) throw tooLarge;
      } catch (err) {
        throw partialSend(err, sent, encoded.length);
      }
      return;
    }
    const n = this.servers.length;
    const index = specific ? this.shardOf(channel) : n === 1 ? 0 : this.sendCursor++ % n;
    const capacity = this.options.common.capacityOf(channel);
    const policy = this.options.tradeoffs.fullOf(channel);
    const what = `sendMany('${channel}')`;
    const attempt = async (): Promise<number> => {
      const args: Array<string | number | Buffer> = [0, capacity, this.ttlMs, policy];
      let score = nextScore();
      args[0] = score - this.expirySec;
      for (let i = sent; i < members.length; i++) {
        if (i > sent) score = nextScore();
        args.push(score, members[i] as Buffer);
      }
      const [added, evicted, expired, depth] = await this.server(index).run(what, (c) => c.rbSendMany(this.key(channel), ...args));
      this.noteExpired(expired, channel);
      this.noteDropped(evicted, channel, 'drop-oldest');
      this.counters.sent += added;
      this.rememberDepth(channel, depth);
      sent += added;
      return added;
    };
    try {
      if (members.length > 0) await attempt();
      while (sent < members.length) {
        if (policy !== 'wait') throw new ChannelFull(channel, capacity);
        const timeout = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
        await this.pollUntil(what, { timeout, signal: options?.signal }, async () => ((await attempt()) > 0 ? true : undefined));
      }
      if (tooLarge !== undefined) throw tooLarge;
    } catch (err) {
      throw partialSend(err, sent, encoded.length);
    }
  }

  /**
   * What is buffered for `channel` first, then one POP_MANY script (a plain channel on several
   * servers: one per server until one has messages); only when both find nothing, a wait as
   * `receive`'s, followed by one more POP_MANY for the rest of the batch.
   */
  protected async doReceiveMany(channel: string, max: number, options: ReceiveManyOptions | undefined): Promise<Message[]> {
    const what = `receiveMany('${channel}')`;
    const out: Message[] = [];
    await this.takeMany(channel, max, out, what);
    if (out.length > 0) return out;
    if (options?.timeout === 0) throw new TimeoutError(what, 0);
    out.push(await this.doReceive(channel, options, what));
    if (max > 1) await this.takeMany(channel, max, out, what);
    return out;
  }

  /** Add to `out`, up to `max`, what is buffered for `channel` and what POP_MANY finds now. */
  private async takeMany(channel: string, max: number, out: Message[], what: string): Promise<void> {
    const grab = () => {
      for (let m; out.length < max && (m = this.takeBuffered(channel)) !== undefined; ) {
        this.counters.received++;
        out.push(m);
      }
    };
    grab();
    if (out.length >= max) return;
    const key = this.key(channel);
    const end = this.newestFirst(channel) ? 'max' : 'min';
    const cutoff = () => nowSeconds() - this.expirySec;
    if (isProcessSpecific(channel)) {
      // The owner key holds all of this instance's '!' channels: what is for the others is buffered.
      const owner = ownerPart(channel);
      const reply = await this.server(this.shardOf(channel)).run(what, (c) => c.rbPopManyBuffer(key, cutoff(), max - out.length, end));
      this.noteExpired(Number(reply[0]), channel);
      for (let i = 1; i + 1 < reply.length; i += 2) {
        this.deliverSpecific(owner, reply[i] as Buffer, Number(String(reply[i + 1])));
      }
      grab();
      return;
    }
    const n = this.servers.length;
    const start = this.pollCursor++ % n;
    for (let k = 0; k < n && out.length < max; k++) {
      const reply = await this.server((start + k) % n).run(what, (c) => c.rbPopManyBuffer(key, cutoff(), max - out.length, end));
      this.noteExpired(Number(reply[0]), channel);
      for (let i = 1; i + 1 < reply.length; i += 2) {
        const unpacked = this.unpack(reply[i] as Buffer, Number(String(reply[i + 1])));
        if (unpacked === undefined) continue;
        this.seenPop(channel);
        this.counters.received++;
        out.push(unpacked.message);
      }
      if (out.length > 0) return; // one round trip when messages are there
    }
  }

  // -------------------------------------------------------------------------------------
  // groups

  protected async doGroupAdd(group: string, channel: string): Promise<void> {
    const groupMs = this.options.common.groupExpiryMs;
    await this.server(shardIndex(group, this.servers.length)).run(`groupAdd('${group}')`, (c) =>
      c.rbGroupAdd(this.groupKey(group), channel, nowSeconds(), Math.max(1, Math.ceil(groupMs))),
    );
  }

  protected async doGroupDiscard(group: string, channel: string): Promise<void> {
    await this.server(shardIndex(group, this.servers.length)).run(`groupDiscard('${group}')`, (c) =>
      c.zrem(this.groupKey(group), channel),
    );
  }

  protected async doGroupSend(group: string, message: Message): Promise<void> {
    const body = this.encode(message);
    const own = await this.groupSendExcept(group, body, `.${this.clientId}!`);
    if (own.length === 0) return;
    // This instance's own members: no trip through Redis and back, as for its direct sends
    // to them (see sendToSelf).
    const score = nextScore();
    const decoded = decode(body) as Message;
    own.forEach((channel, i) => {
      const copy = i === own.length - 1 ? decoded : copyMessage(decoded);
      if (this.pushOwn(channel, copy, score)) this.counters.sent++;
      else this.noteDropped(1, channel, 'group-full', group);
    });
  }

  /**
   * Group send of encoded `body` to every member of `group` except those whose owner part
   * ends with `suffix` (`.<client>!`), which are returned. One round trip on a single
   * server without encryption or per-channel patterns (the GROUP_SEND_LOCAL script); else
   * one to read the group and one per shard.
   */
  protected async groupSendExcept(group: string, body: Buffer, suffix: string): Promise<string[]> {
    const what = `groupSend('${group}')`;
    const cutoff = nowSeconds() - this.options.common.groupExpiryMs / 1000;
    if (this.servers.length === 1 && this.options.crypter === null && this.options.uniformChannels) {
      return this.groupSendLocal(group, body, cutoff, what, suffix);
    }
    const members = await this.server(shardIndex(group, this.servers.length)).run(what, (c) =>
      c.rbGroupMembers(this.groupKey(group), cutoff),
    );
    const own: string[] = [];
    const others: string[] = [];
    for (const member of members) {
      const bang = member.indexOf('!');
      (bang >= 0 && member.slice(0, bang + 1).endsWith(suffix) ? own : others).push(member);
    }
    await this.deliverToMembers(others, body, what, group);
    return own;
  }

  /**
   * Store encoded message `body` for every channel of `members` (one stored message per
   * key, one script call per shard), counting deliveries and misses (reported as events of
   * `group`, when a group send is storing).
   */
  protected async deliverToMembers(members: readonly string[], body: Buffer, what: string, group?: string): Promise<void> {
    if (members.length === 0) return;
    // Members sharing a key (the `!` channels of one owner) share one stored message.
    const shards = new Map<number, Map<string, { channels: string[]; capacity: number; policy: string }>>();
    for (const channel of members) {
      const index = this.shardOf(channel);
      let keys = shards.get(index);
      if (keys === undefined) shards.set(index, (keys = new Map()));
      const key = this.key(channel);
      const entry = keys.get(key);
      if (entry !== undefined) entry.channels.push(channel);
      else {
        const { capacityOf } = this.options.common;
        keys.set(key, { channels: [channel], capacity: capacityOf(channel), policy: this.options.tradeoffs.fullOf(channel) });
      }
    }

    const score = nextScore();
    const expiryCutoff = score - this.expirySec;
    await Promise.all(
      [...shards].map(async ([index, keys]) => {
        const entries = [...keys];
        const args: Array<string | number | Buffer> = [score, expiryCutoff, this.ttlMs];
        for (const [, { channels, capacity, policy }] of entries) {
          args.push(makeMember(withRouting(body, channels), this.options.crypter), capacity, policy);
        }
        const statuses = await this.server(index).run(what, (c) =>
          c.rbGroupDeliver(entries.length, ...entries.map(([key]) => key), ...args),
        );
        entries.forEach(([, { channels }], i) => {
          const status = statuses[i] as number;
          if (status < 0) for (const member of channels) this.noteDropped(1, member, 'group-full', group);
          else {
            this.counters.sent += channels.length;
            this.noteDropped(status, channels.length === 1 ? (channels[0] as string) : null, 'drop-oldest', group);
          }
        });
        this.noteExpired(statuses[entries.length] ?? 0, null);
      }),
    );
  }

  /** One round trip: the GROUP_SEND_LOCAL script reads the group and stores for every key but the sender's. */
  private async groupSendLocal(group: string, body: Buffer, groupCutoff: number, what: string, suffix: string): Promise<string[]> {
    const [count, headerLength] = mapHeader(body);
    const score = nextScore();
    const { common, tradeoffs, prefix } = this.options;
    const reply = await this.server(0).run(what, (c) =>
      c.rbGroupSendLocal(
        this.groupKey(group),
        prefix,
        groupCutoff,
        score,
        score - this.expirySec,
        this.ttlMs,
        common.capacity,
        tradeoffs.fullOf(group), // uniformChannels: the same policy for every name
        randomPrefix(),
        body.subarray(headerLength),
        count,
        suffix,
      ),
    );
    const [delivered, missed, evicted, expired] = reply as number[];
    this.counters.sent += delivered as number;
    this.noteDropped(missed as number, null, 'group-full', group);
    this.noteDropped(evicted as number, null, 'drop-oldest', group);
    this.noteExpired(expired as number, null);
    return reply.slice(4).map(String);
  }

  // -------------------------------------------------------------------------------------
  // flush, stats, close

  protected async doFlush(): Promise<void> {
    const pattern = `${escapeGlob(this.options.prefix)}*`;
    await Promise.all(this.servers.map((s) => s.run('flush', (c) => c.rbFlush(pattern))));
    for (const [channel, inbox] of this.inboxes) {
      inbox.buffer.length = 0;
      this.forgetIfIdle(channel, inbox);
    }
    for (const state of this.owners.values()) state.buffered = 0;
    for (const owner of this.owners.keys()) this.resumeReadAhead(owner); // an owner part names its own key
    this.depthSeen.clear();
  }

  /**
   * Depths as this instance knows them without asking Redis: the depth of each channel's
   * key after this instance's last send to it, minus what it popped since, plus messages
   * buffered here for its own `!` channels. Other processes' traffic is not seen.
   */
  protected depths(): Record<string, number> {
    const depths: Record<string, number> = {};
    for (const [channel, depth] of this.depthSeen) depths[channel] = depth;
    for (const [channel, inbox] of this.inboxes) {
      if (inbox.buffer.length > 0) depths[channel] = (depths[channel] ?? 0) + inbox.buffer.length;
    }
    return depths;
  }

  protected async doClose(): Promise<void> {
    // Waiters were released by the close signal. A read-ahead pop is parked on each own key
    // at all times: wake it first, so that a message it took as the layer closed lands in a
    // buffer (and is counted below) instead of being lost unseen with the socket.
    await Promise.all(
      [...this.readers.values()].filter((r) => this.ownerReaders.has(r)).map((r) => r.stop(STOP_READER_MS)),
    );
    // Only this instance could receive what is buffered for its `!` channels: report it.
    for (const [channel, inbox] of this.inboxes) this.noteDropped(inbox.buffer.length, channel, 'closed');
    // The other readers end once their connections close.
    for (const server of this.servers) server.close();
    this.inboxes.clear();
    this.readers.clear();
  }

  protected warn(kind: string, err: unknown): void {
    if (this.closed || this.warned.has(kind)) return;
    this.warned.add(kind);
    const message = err instanceof Error ? err.message : String(err);
    process.emitWarning(`ringbus redis layer: ${kind} failed: ${message} (further ${kind} failures are counted, not reported)`, {
      code: 'RINGBUS_REDIS',
    });
  }
}

export type { RedisLayerOptions } from '../redis/options.js';
