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
 * process (up to that channel's capacity), since nobody else may receive them.
 *
 * @module
 */

import { setMaxListeners } from 'node:events';
import { ChannelFull, ConnectionError, MessageTooLarge, TimeoutError, UnconfirmedSend, Unsupported } from '../errors.js';
import { assertOptionsObject, isProcessSpecific, ownerPart, type Lease, type Message, type ReceiveOptions, type SendOptions, type WaitOptions } from '../layer.js';
import { shardIndex } from '../redis/crc32.js';
import { RedisServer, isUnconfirmed } from '../redis/host.js';
import { resolveRedisOptions, type RedisLayerOptions, type ResolvedRedisOptions } from '../redis/options.js';
import { leaseKeys, RedisLease } from '../redis/leases.js';
import { Reader, type ReaderOwner } from '../redis/reader.js';
import { decode } from '../codec.js';
import { copyMessage, encodeBody, makeMember, mapHeader, nextScore, nowSeconds, randomPrefix, unpackMember, withRouting, type Unpacked } from '../redis/wire.js';
import { WaitScope } from '../wait.js';
import { LayerBase, randomHex } from './base.js';

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
    // Every pending receive listens to the close signal: many at once are normal, not a leak.
    setMaxListeners(0, this.closeSignal);
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
      inbox.buffer.shift();
      this.noteExpired(1, channel);
    }
    const capacity = this.options.common.capacityOf(channel);
    if (inbox.buffer.length >= capacity) {
      if (this.options.tradeoffs.fullOf(channel) !== 'drop-oldest') {
        this.forgetIfIdle(channel, inbox);
        return false;
      }
      inbox.buffer.shift();
      this.noteDropped(1, channel, 'drop-oldest');
    }
    inbox.buffer.push({ message, score });
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

  /** The oldest buffered message of `channel` that is still fresh. */
  private takeBuffered(channel: string): Message | undefined {
    const inbox = this.inboxes.get(channel);
    if (inbox === undefined) return undefined;
    let found: Message | undefined;
    while (found === undefined && inbox.buffer.length > 0) {
      const item = inbox.buffer.shift() as Buffered;
      if (this.isExpired(item.score)) this.noteExpired(1, channel);
      else found = item.message;
    }
    this.forgetIfIdle(channel, inbox);
    return found;
  }

  protected async doReceive(channel: string, options: ReceiveOptions | undefined): Promise<Message> {
    const buffered = this.takeBuffered(channel);
    if (buffered !== undefined) {
      this.counters.received++;
      return buffered;
    }
    if (options?.timeout === 0) return this.receiveNow(channel);
    const what = `receive('${channel}')`;
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
    return {
      demand: () => (this.specificDemand.get(owner) ?? 0) > 0,
      // The key is this instance's alone: take a batch, buffer what nobody waits for yet.
      batch: () => OWNER_BATCH,
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
      inbox.buffer.shift();
      this.noteExpired(1, channel);
    }
    inbox.buffer.push({ message, score });
    const capacity = this.options.common.capacityOf(channel);
    while (inbox.buffer.length > capacity) {
      inbox.buffer.shift();
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
    // Waiters were released by the close signal; readers end once their connections close.
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
