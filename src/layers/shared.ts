/**
 * The shared-memory layer: the default backend. Channels, groups and messages live in one
 * shared WebAssembly memory managed by the lock-free core in assembly/ (see docs/core.md);
 * every thread that attaches (`attachLayer(layer.handle)`) sees the same bus.
 *
 * Hot paths: a send is one encode, one `alloc` call, one `Uint8Array.set` into the shared
 * memory and one `send` call (pin + Vyukov enqueue + wake, in wasm); a receive is one `recv`
 * call, one copy out of the shared memory and one `release`. Names are resolved once and
 * cached as (record, generation); the core re-validates the generation on every use, so a
 * reclaimed channel is looked up again, never written through a stale address.
 *
 * Trade-offs: a LIFO channel's queue is a lock-free stack in the core; under at-least-once
 * delivery, `receiveLease` takes a message into the shared lease table (assembly/leases.ts),
 * each instance sweeps that table for expired leases on a timer, and `watch(worker)` (or a
 * pool, see src/pool.ts) hands a dead thread's leases back at once.
 *
 * @module
 */

import { quote } from '../quote.js';
import { assertRecords, decodeRecordsOwned, encode, encodeRecords } from '../codec.js';
import { structuresOf, type Structures } from '../codec/records.js';
import { isMainThread, threadId, workerData as threadWorkerData } from 'node:worker_threads';
import { ChannelFull, type LayoutMismatch } from '../errors.js';
import {
  type Borrowed, type LayerStats, type Lease, type Message, type MessageShape, type ReceiveManyOptions, type ReceiveOptions, type SendOptions,
} from '../layer.js';
import { BLOCK_HEADER, type Core } from '../wasm/core.js';
import { LayerBase } from './base.js';
import { AtLeastOnce, isWatchable, sweepIntervalMs, type LeaseSettler, type WatchableWorker } from './shared/leases.js';
import type { ResolvedSharedOptions, SharedLayerHandle, SharedLayerOptions } from './shared/options.js';
import { parkUntil, type ParkedCounter, type Strategy } from './shared/park.js';
import * as batch from './shared/batch.js';
import * as groups from './shared/groups.js';
import { HANDOFF_HINT, handleFrom, type BusWorkerData } from './shared/worker-data.js';
import { forget, track } from './shared/lifetime.js';
import { attachRegion, createRegion } from './shared/open.js';
import { SLOT_LOST, claimInstance, observeSlots, SHUT_DOWN } from './shared/slots.js';
import { SlotLiveness } from './shared/liveness.js';
import { RELIEF_STEPS, Reclaimer } from './shared/reclaim.js';
import { Holds } from './shared/holds.js';
import { DecodeCache } from './shared/fanout.js';
import { MAX_SPIN_BACKOFF, Registry, type Ref } from './shared/registry.js';
import { Borrows, TableEntries } from './shared/borrow.js';
import { Messages } from './shared/messages.js';
import { memoryStats, type SharedMemoryStats } from './shared/stats.js';

export type { SharedLayerHandle, SharedLayerOptions } from './shared/options.js';
export type { LeaseSettler, WatchableWorker } from './shared/leases.js';
export type { SharedMemoryStats, StructureTableStats } from './shared/stats.js';

const RESOLVED: Promise<void> = Promise.resolve();

/** What `popResolved` returns for a channel this instance has not resolved yet. */
const NOT_RESOLVED = -1;

/**
 * The shared-memory layer (the default backend): one bus for every thread of the process.
 * Create it with `createLayer()`; in another thread, attach with `attachLayer()` (see
 * `workerData`).
 *
 * Process lifetime: a pending wait (`receive`, `listen`, a `send` under `full: 'wait'`) keeps
 * the process alive, like a socket, until a message arrives, its timeout or signal ends it, or
 * the layer closes. Close the layer (or end the waits) to let the process exit.
 */
export class SharedLayer extends LayerBase implements LeaseSettler {
  /** `groups` and `flush`, and `leases` under at-least-once delivery. */
  readonly extensions: readonly string[];
  /**
   * What another thread needs to attach to this bus (structured-cloneable). Pass it as
   * `workerData: workerData(layer, fields)` (or in a `postMessage`) and call `attachLayer` there.
   * The layer itself cannot be cloned.
   */
  readonly handle: SharedLayerHandle;
  private readonly opts: ResolvedSharedOptions;
  private readonly core: Core;
  private readonly strategy: Strategy;
  /** Name slots, registry lookups and the name caches (shared/registry.ts). */
  private readonly registry: Registry;
  /**
   * The registry's channel cache, read directly by the fast paths (no call in between). Use
   * a cached (record, generation) only synchronously (the cache rule of shared/registry.ts).
   */
  private readonly channels: Map<string, Ref>;
  /** Stores messages into blocks and copies them out (shared/messages.ts); the fast paths call it. */
  private readonly messages: Messages;
  /** This instance's id in the instance table (the owner of its leases); 0: none. */
  private readonly instance: number;
  /** At-least-once: the timer that sweeps expired leases, and when to sweep next on a take. */
  private readonly sweeper: { timer: ReturnType<typeof setInterval> | undefined } = { timer: undefined };
  /** True for the layer that created the bus: closing it shuts the bus down. */
  private readonly creator: boolean;
  /** Int32 index of the bus's closed word (assembly/lifetime.ts). */
  private readonly closedIndex: number;
  /** Whether this instance still holds its instance slot (shared/liveness.ts); undefined: no slot. */
  private readonly liveness: SlotLiveness | undefined;
  /** Tracks this instance for its thread's exit and its collection (shared/lifetime.ts). */
  private readonly lifetime: WeakRef<SharedLayer>;
  /**
   * Addresses of this instance's wait words in the instance table (0: none): the record it
   * pinned for a wait, and the parked counter it incremented. A thread that dies while
   * waiting leaves them set, and the reaper undoes the pin and the increment.
   */
  private readonly pinWord: number;
  private readonly parkWord: number;
  /** Counts waiters in and out of parked counters through the core, recording them. */
  private readonly parkedCounter: ParkedCounter;
  /** What the batched and synchronous calls (shared/batch.ts) use of this layer. */
  private readonly batch: batch.BatchHost;
  /** Takes, settles and sweeps under at-least-once delivery (shared/leases.ts). */
  private readonly atLeastOnce: AtLeastOnce;
  /** What the group calls (shared/groups.ts) use of this layer. */
  private readonly groupHost: groups.GroupHost;
  /** Reclamation: epoch announcements, full and bounded reclaims (shared/reclaim.ts). */
  private readonly reclaimer: Reclaimer;
  /** This instance's pins on its hot channels (shared/holds.ts). */
  private readonly holds: Holds;
  /** Decode once per thread for fan-out, with `frozenMessages` (shared/fanout.ts). */
  private readonly decodeCache: DecodeCache | undefined;
  /** Borrowed receives (shared/borrow.ts). */
  private readonly borrows: Borrows;
  /** This thread's view of the bus's records structure table (decoding: always; src/codec/records.ts). */
  private readonly structures: Structures;
  /** The same, for encoding; null: this instance sends plain msgpack (option `records`). */
  private readonly shapes: Structures | null;

  private constructor(handle: SharedLayerHandle, opts: ResolvedSharedOptions, core: Core, creator: boolean, clientId?: string) {
    super(clientId);
    this.handle = handle;
    this.opts = opts;
    this.core = core;
    this.creator = creator;
    this.closedIndex = core.x.closedWord() >> 2;
    const leases = opts.tradeoffs.delivery === 'at-least-once';
    this.extensions = leases ? ['groups', 'flush', 'leases'] : ['groups', 'flush'];
    this.instance = claimInstance(core.x, threadId, opts.livenessTimeoutMs, leases);
    const slot = core.x.instanceSlot(this.instance);
    const self = new WeakRef(this); // timers must not keep a forgotten layer alive
    this.liveness =
      slot === 0
        ? undefined
        : new SlotLiveness(core.i32, slot >> 2, core.x.instanceToken(), opts.livenessTimeoutMs, weakly(self, SharedLayer.touch));
    if (creator) observeSlots(core.x, opts.livenessTimeoutMs, self);
    this.pinWord = slot === 0 ? 0 : slot + 16;
    this.parkWord = slot === 0 ? 0 : slot + 20;
    const parkWord = this.parkWord;
    const counters = this.counters;
    this.parkedCounter = {
      enter: (_i32, count) => {
        counters.waits++;
        core.x.parkEnter(count * 4, parkWord);
      },
      leave: (_i32, count) => core.x.parkLeave(count * 4, parkWord),
    };
    if (leases) {
      const every = sweepIntervalMs(opts.tradeoffs.leaseTimeoutMs);
      this.sweeper.timer = setInterval(weakly(self, SharedLayer.sweepOf), every);
      this.sweeper.timer.unref?.();
    }
    this.lifetime = track(this, core.x, this.instance, this.liveness, this.sweeper) as WeakRef<SharedLayer>;
    // A wait re-reads the bus's closed word (through the `closed` getter) after reading its
    // wake word and before parking (see assembly/lifetime.ts).
    const check = (): void => void this.closed;
    this.strategy = { wait: opts.tradeoffs.wait, spinBudget: opts.tradeoffs.spinBudget, check };
    const liveness = this.liveness;
    const held = liveness === undefined ? undefined : liveness.held.bind(liveness);
    // Allocation relief, for every part that allocates in the arena (cold paths only).
    const relief = {
      relieve: (attempt: () => number): number => this.withRelief(attempt),
      shortage: (bytes: number): string => this.reclaimer.shortage(bytes),
    };
    this.holds = new Holds(core, this.instance, held);
    this.registry = new Registry({
      core, opts, holds: this.holds, ...relief,
      swept: () => {
        if (this.observed) this.noticeExpired(null);
      },
    }, this.pinWord);
    this.channels = this.registry.channels;
    this.reclaimer = new Reclaimer(core, slot, [this.channels, this.registry.groups], opts.common, held);
    this.structures = structuresOf({
      u8: core.u8,
      i32: core.i32,
      word: core.x.recordsWord(),
      alloc: (bytes) => {
        const h = core.x.allocScratch(bytes);
        return h === 0 ? 0 : h + BLOCK_HEADER;
      },
      free: (payload) => core.x.release(payload - BLOCK_HEADER),
    });
    this.shapes = opts.records ? this.structures : null;
    this.decodeCache = opts.frozenMessages ? new DecodeCache(core, this.instance, held) : undefined;
    this.messages = new Messages(core, opts.maxMessageSize, counters, this.structures, this.shapes, this.decodeCache, relief);
    this.borrows = new Borrows({
      core, held,
      entries: this.decodeCache ?? new TableEntries(core, this.instance, held),
      copyOut: (h) => this.messages.copyOut(h),
      // Views of the shared block (kept until release), records read with the bus's structures.
      decodeViews: (bytes) => decodeRecordsOwned(bytes, this.structures),
    });
    this.batch = {
      core, opts, counters, strategy: this.strategy, parkedCounter: this.parkedCounter, closeSignal: this.closeSignal,
      cached: (channel) => this.channels.get(channel),
      pushCached: (ref, h) => this.pushCached(ref as Ref, h),
      popCached: (ref) => this.popCached(ref as Ref),
      store: (message, now) => this.messages.store(message, now),
      storeEncoded: (bytes, now) => this.messages.storeEncoded(bytes, now),
      take: (h) => this.messages.take(h),
      cutoff: () => this.cutoff(),
      noteDropped: (count, channel) => this.noteDropped(count, channel, 'drop-oldest'),
      pinForWait: (channel) => this.registry.pinForWait(channel),
      unpinAfterWait: (rec) => this.registry.unpinAfterWait(rec),
      waitTake: (channel, rec, what, options) => this.waitTake(channel, rec, what, options),
    };
    this.atLeastOnce = new AtLeastOnce({
      core, opts, counters, strategy: this.strategy, parkedCounter: this.parkedCounter, closeSignal: this.closeSignal,
      registry: this.registry, settler: this, instance: this.instance,
      cutoff: () => this.cutoff(),
      copyOut: (h) => this.messages.copyOut(h),
      noticeExpired: (channel) => {
        if (this.observed) this.noticeExpired(channel);
      },
    });
    this.groupHost = {
      core, opts, counters, registry: this.registry,
      store: (message) => this.messages.store(message),
      storeBytes: (bytes, timeMs) => this.messages.storeBytes(bytes, timeMs),
      ...relief,
      cutoff: () => this.cutoff(),
      noteDropped: (count, channel, reason, group) => this.noteDropped(count, channel, reason, group),
    };
  }

  /** Create a new bus in a fresh shared memory. */
  static create(options: SharedLayerOptions = {}, clientId?: string): SharedLayer {
    const { handle, opts, core } = createRegion(options);
    return new SharedLayer(handle, opts, core, true, clientId);
  }

  /**
   * Attach to the bus of `handle` (from `layer.handle`, possibly made in another thread).
   * `clientId`: the owner id of this instance's `!` channels (random when omitted; the
   * hybrid layer gives every instance of a machine its bus id).
   */
  static attach(handle: SharedLayerHandle, clientId?: string): SharedLayer {
    const { opts, core } = attachRegion(handle);
    return new SharedLayer(handle, opts, core, false, clientId);
  }

  /** Arena and registry accounting; exact when no operation is in flight. */
  memoryStats(): SharedMemoryStats {
    return memoryStats(this.core, this.structures);
  }

  /**
   * Reclaim every empty, unused channel and every empty group of the bus now, after dropping
   * expired messages and expired group members, and give their memory back to the arena
   * (records once every layer instance has moved on, see {@link SharedMemoryStats.pooledRecords}).
   * This also happens incrementally as channels are created, and in bounded steps when the
   * arena or the registry runs out. Returns how many were reclaimed.
   */
  reclaim(): number {
    this.decodeCache?.flush();
    this.holds.dropAll();
    this.holds.requestRelease();
    const reclaimed = this.reclaimer.full();
    if (this.observed) this.noticeExpired(null);
    return reclaimed;
  }

  /** Retry `attempt` after bounded relief steps (at most one pass over the registry); 0 when it still fails. */
  private withRelief(attempt: () => number): number {
    this.holds.dropAll();
    this.decodeCache?.flush();
    for (let i = 0; i < RELIEF_STEPS; i++) {
      this.reclaimer.relieve();
      if (this.observed) this.noticeExpired(null);
      const r = attempt();
      if (r !== 0) return r;
    }
    return 0;
  }

  /**
   * True once `close()` was called, or once the bus was shut down (its creating layer
   * closed): this instance then closes itself, so every pending wait rejects with
   * LayerClosed and every later call does too.
   */
  override get closed(): boolean {
    if (super.closed) return true;
    const i32 = this.core.i32;
    const l = this.liveness;
    if (Atomics.load(i32, this.closedIndex) === 0 && (l === undefined || Atomics.load(i32, l.index) === l.token || l.held())) {
      return false;
    }
    void this.close();
    return true;
  }

  protected override closedBecause(): string | undefined {
    if (this.liveness?.lost === true) return SLOT_LOST(this.opts.livenessTimeoutMs);
    return !this.creator && Atomics.load(this.core.i32, this.closedIndex) !== 0 ? SHUT_DOWN : undefined;
  }

  /** This instance's id in the bus's instance table (0: it has no slot). @internal */
  get instanceId(): number {
    return this.instance;
  }

  // ---- send / receive ------------------------------------------------------------------

  // Fast path: a channel this instance already resolved. Everything happens synchronously
  // and the returned promise is already settled, which saves the two promise hops of the
  // generic path (validation is the same: a name is cached only after it was checked, and
  // the message is checked here).
  /** {@inheritDoc ChannelLayer.send} */
  override send<T extends MessageShape<T>>(channel: string, msg: T, options?: SendOptions): Promise<void> {
    const message = msg as unknown as Message;
    const cached = this.channels.get(channel);
    if (cached !== undefined) {
      let h: number;
      try {
        this.checkSend(channel, message, options, true); // refuses a closed layer first
        h = this.messages.store(message);
      } catch (err) {
        return Promise.reject(err);
      }
      if (this.pushCached(cached, h)) {
        this.counters.sent++;
        return RESOLVED;
      }
      return this.enqueue(channel, h, options);
    }
    return super.send(channel, message, options);
  }

  // Fast path: a message is waiting on a channel this instance already resolved and owns (it
  // is taken whatever the timeout says, as a wait would end at once; `listen` loops get here
  // too). The checks are LayerBase's, so the fast path refuses exactly what `receive`
  // refuses.
  /** {@inheritDoc ChannelLayer.receive} */
  override receive<T extends MessageShape<T> = Message>(channel: string, options?: ReceiveOptions): Promise<T> {
    let h: number;
    try {
      h = this.popResolved('receive', channel, options);
      if (h > 1) return Promise.resolve(this.messages.take(h) as unknown as T);
    } catch (err) {
      return Promise.reject(err);
    }
    if (h === NOT_RESOLVED) return super.receive<T>(channel, options);
    return this.doReceive(channel, options) as Promise<unknown> as Promise<T>;
  }

  // Fast path as receive's; the borrow keeps the block (shared/borrow.ts).
  /** {@inheritDoc ChannelLayer.receiveBorrowed} */
  override receiveBorrowed<T extends MessageShape<T> = Message>(channel: string, options?: ReceiveOptions): Promise<Borrowed<T>> {
    let h: number;
    try {
      h = this.popResolved('receiveBorrowed', channel, options);
      if (h > 1) return Promise.resolve(this.borrow(h) as unknown as Borrowed<T>);
    } catch (err) {
      return Promise.reject(err);
    }
    if (h === NOT_RESOLVED) return super.receiveBorrowed<T>(channel, options);
    return this.doReceiveBorrowed(channel, options) as Promise<unknown> as Promise<Borrowed<T>>;
  }

  protected override doReceiveBorrowed(channel: string, options: ReceiveOptions | undefined): Promise<Borrowed> {
    return this.receiveWith(channel, options, `receiveBorrowed('${channel}')`, (h) => this.borrow(h));
  }

  /** Borrow just-taken message `h` (counted received). */
  private borrow(h: number): Borrowed {
    const b = this.borrows.take(h);
    this.counters.received++;
    return b;
  }

  // Fast path of trySend, as send's: a channel this instance already resolved skips the name
  // check (it was checked before it was cached).
  /** {@inheritDoc ChannelLayer.trySend} */
  override trySend<T extends MessageShape<T>>(channel: string, msg: T): boolean {
    const message = msg as unknown as Message;
    if (!this.channels.has(channel)) return super.trySend(channel, msg);
    this.checkSend(channel, message, undefined, true, 'trySend'); // refuses a closed layer first
    return this.doTrySend(channel, message);
  }

  // Fast path of tryReceive, as receive's: a channel this instance already resolved skips the
  // name check (it was checked before it was cached) and the batch host's indirection.
  /** {@inheritDoc ChannelLayer.tryReceive} */
  override tryReceive<T extends MessageShape<T> = Message>(channel: string): T | undefined {
    const h = this.popResolved('tryReceive', channel, undefined);
    if (h > 1) return this.messages.take(h) as unknown as T;
    return h === 0 ? undefined : super.tryReceive<T>(channel); // not resolved, or reclaimed: resolve
  }

  /**
   * The receive fast paths' common step: on a channel this instance already resolved, the
   * checks of `what` (its name was checked before it was cached; a closed layer is refused
   * here) and a pop, as {@link popCached} returns it (a handle, 0 empty, 1 stale record);
   * {@link NOT_RESOLVED} when the channel is not cached, for the generic path.
   */
  private popResolved(what: string, channel: string, options: ReceiveOptions | undefined): number {
    const cached = this.channels.get(channel);
    if (cached === undefined) return NOT_RESOLVED;
    this.checkReceive(what, channel, options, true);
    const h = this.popCached(cached);
    if (this.observed) this.noticeExpired(channel);
    return h;
  }

  /**
   * Push stored message `h` on resolved channel `ref` the fast way: through this instance's
   * held pin when it has one (no write to the record's ctl word), else pinning for the call
   * and taking a hold for the next ones. False when full or stale (the caller still owns `h`).
   * Call it after `messages.store`: a relief step there drops the holds (shared/holds.ts).
   */
  private pushCached(ref: Ref, h: number): boolean {
    const held = ref.held;
    ref.hot = true;
    if (held !== 0 ? this.core.x.pushPinned(ref.rec, h) !== 1 : this.core.x.send(ref.rec, ref.gen, h) !== 1) return false;
    if (held === 0) this.holds.take(ref);
    return true;
  }

  /** Pop from resolved channel `ref` the fast way (see pushCached): a handle, 0 empty, 1 stale record. */
  private popCached(ref: Ref): number {
    const held = ref.held;
    ref.hot = true;
    const h = held !== 0 ? this.core.x.popPinned(ref.rec, this.cutoff()) : this.core.x.recv(ref.rec, ref.gen, this.cutoff());
    if (h > 1 && held === 0) this.holds.take(ref);
    return h;
  }

  /** Reached only for a channel this instance has not resolved yet (see `send`). */
  protected async doSend(channel: string, message: Message, options: SendOptions | undefined): Promise<void> {
    return this.enqueue(channel, this.messages.store(message), options);
  }

  /** Enqueue stored message `h` (owned by the caller until queued) the slow way: resolve, full policies. */
  private async enqueue(channel: string, h: number, options: SendOptions | undefined): Promise<void> {
    const x = this.core.x;
    let rec: number;
    try {
      rec = this.registry.pinForWait(channel);
    } catch (err) {
      x.release(h);
      throw err;
    }
    try {
      if (x.pushPinned(rec, h) === 1) {
        this.counters.sent++;
        return;
      }
      // Full. Expired messages do not count against the capacity: drop them first.
      x.dropExpired(rec, this.cutoff());
      if (x.pushPinned(rec, h) === 1) {
        this.counters.sent++;
        return;
      }
      const policy = this.opts.tradeoffs.fullOf(channel);
      if (policy === 'drop-oldest') {
        // Evict only while the ring is really full (batch.pushOrDrop); a consumer preempted
        // between claiming a slot and freeing it holds the slot the push needs: yield, retry.
        while (!batch.pushOrDrop(this.batch, channel, rec, h)) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (this.closed) {
            x.release(h);
            this.assertOpen(`send('${channel}')`);
          }
        }
        this.counters.sent++;
        return;
      } else if (policy === 'wait') {
        try {
          await batch.waitForRoom(this.batch, channel, rec, h, `send('${channel}')`, options);
        } catch (err) {
          x.release(h);
          throw err;
        }
        this.counters.sent++;
        return;
      }
      x.release(h);
      throw new ChannelFull(channel, this.opts.common.capacityOf(channel));
    } finally {
      this.registry.unpinAfterWait(rec);
      if (this.observed) this.noticeExpired(channel);
    }
  }

  /** Reached when `receive`'s fast path found nothing (or the channel is not resolved yet). */
  protected doReceive(channel: string, options: ReceiveOptions | undefined): Promise<Message> {
    return this.receiveWith(channel, options, `receive('${channel}')`, (h) => this.messages.take(h));
  }

  /** Pin `channel`, take a message (waiting as `options` say), hand its handle to `take`. */
  private async receiveWith<R>(channel: string, options: ReceiveOptions | undefined, what: string, take: (h: number) => R): Promise<R> {
    const x = this.core.x;
    const rec = this.registry.pinForWait(channel);
    try {
      let h = x.popPinned(rec, this.cutoff());
      if (h === 0) h = await this.waitTake(channel, rec, what, options);
      return take(h);
    } finally {
      this.registry.unpinAfterWait(rec);
      if (this.observed) this.noticeExpired(channel);
    }
  }

  /**
   * Wait until a message of pinned channel `rec` is taken and return its handle: under the
   * adaptive strategy spin first (with the per-channel back-off of {@link Ref}), then park.
   */
  private async waitTake(channel: string, rec: number, what: string, options: ReceiveOptions | undefined): Promise<number> {
    const x = this.core.x;
    const attempt = (): number => x.popPinned(rec, this.cutoff());
    let h = 0;
    const ref = this.channels.get(channel);
    if (this.strategy.wait === 'adaptive' && options?.timeout !== 0 && ref !== undefined) {
      if (ref.spinSkip > 0) ref.spinSkip--;
      else {
        // Spin first, synchronously: a message that arrives within microseconds is taken
        // without building a wait scope or a promise. The cutoff is fixed for the spin.
        const cutoff = this.cutoff();
        for (let i = this.strategy.spinBudget; h === 0 && i > 0; i--) h = x.popPinned(rec, cutoff);
        ref.spinBackoff = h !== 0 ? 0 : Math.min(MAX_SPIN_BACKOFF, Math.max(1, ref.spinBackoff * 2));
        ref.spinSkip = ref.spinBackoff;
      }
    }
    if (h !== 0) return h;
    const off = this.core.off;
    return parkUntil(
      this.core.i32, (rec + off.wake) >> 2, (rec + off.parked) >> 2, what, options, this.closeSignal, this.strategy,
      attempt, this.parkedCounter,
    );
  }

  // ---- synchronous and batched calls (shared/batch.ts) --------------------------------

  protected doTrySend(channel: string, message: Message): boolean {
    return batch.trySend(this.batch, channel, message);
  }

  protected doTryReceive(channel: string): Message | undefined {
    const message = batch.tryReceive(this.batch, channel);
    if (this.observed) this.noticeExpired(channel);
    return message;
  }

  protected doSendMany(channel: string, encoded: readonly Uint8Array[], options: SendOptions | undefined): Promise<void> {
    return batch.sendMany(this.batch, channel, encoded, options);
  }

  protected async doReceiveMany(channel: string, max: number, options: ReceiveManyOptions | undefined): Promise<Message[]> {
    const messages = await batch.receiveMany(this.batch, channel, max, options);
    if (this.observed) this.noticeExpired(channel);
    return messages;
  }

  // ---- at-least-once delivery ---------------------------------------------------------

  protected override get leases(): boolean {
    return this.opts.tradeoffs.delivery === 'at-least-once';
  }

  protected override doReceiveLease(channel: string, options: ReceiveOptions | undefined): Promise<Lease> {
    return this.atLeastOnce.receive(channel, options);
  }

  /** Settle lease (slot, seq) of this bus; used by its leases (shared/leases.ts). @internal */
  settleLease(slot: number, seq: number, how: 'ack' | 'nack'): boolean {
    return this.atLeastOnce.settle(slot, seq, how);
  }

  /**
   * Watch a worker thread attached to this bus: when it exits (ends, crashes or is
   * terminated), the leases its instances held go back to the head of their channels at
   * once, with their delivery count, instead of after `leaseTimeout`; and its instances are
   * detached. `createPool` watches its workers by itself. Resolves, once the worker exited,
   * with the number of messages given back (there is no need to wait for it).
   */
  watch(worker: WatchableWorker): Promise<number> {
    if (!isWatchable(worker)) {
      throw new TypeError(`invalid worker for watch: ${quote(worker)}; expected a Worker of node:worker_threads`);
    }
    const thread = worker.threadId;
    return new Promise<number>((resolve) => {
      worker.once('exit', () => resolve(thread < 0 ? 0 : this.reapThread(thread)));
    });
  }

  /**
   * The thread with id `thread` (`worker.threadId`) is gone: give back the leases of its
   * layer instances and detach them. Returns the number of messages given back. Only call
   * it for a thread that has really exited: `watch` does it at the right moment.
   */
  reapThread(thread: number): number {
    return this.atLeastOnce.reapThread(thread);
  }

  /** Timer callbacks (static, so that they do not close over a constructor's `this`; see `weakly`). */
  private static sweepOf(layer: SharedLayer): void {
    layer.atLeastOnce.sweepQuietly();
  }

  private static touch(layer: SharedLayer): void {
    void layer.closed;
  }

  // ---- groups --------------------------------------------------------------------------

  protected async doGroupAdd(group: string, channel: string): Promise<void> {
    groups.groupAdd(this.groupHost, group, channel);
  }

  protected async doGroupDiscard(group: string, channel: string): Promise<void> {
    groups.groupDiscard(this.groupHost, group, channel);
  }

  protected async doGroupSend(group: string, message: Message): Promise<void> {
    groups.groupSend(this.groupHost, group, message);
  }

  /**
   * Deliver an already encoded message to each of `channels`, as a group send does to its
   * members: full channels miss it (counted in `dropped`; a `'drop-oldest'` channel evicts
   * its oldest message instead), `timeMs` (epoch ms) is its send time, from which `expiry`
   * counts. For the hybrid layer (src/layers/hybrid.ts), whose groups and Redis arrivals
   * are encoded once for all local members; `bytes` must be one message as `encode` writes
   * it, within `maxMessageSize`. `group`: the group sent to (its misses are reported as
   * 'group-full'), or undefined for messages that arrived from another machine
   * ('arrival-full'). Returns how many channels received it. @internal
   */
  deliverEncoded(channels: readonly string[], bytes: Uint8Array, timeMs: number, group?: string): number {
    this.assertOpen('groupSend');
    return groups.deliverEncoded(this.groupHost, channels, bytes, timeMs, group);
  }

  // ---- whole bus -----------------------------------------------------------------------

  /** Expired messages the core discarded when this instance last reported (see noticeExpired). */
  private expiredSeen = 0;

  protected override startObserving(): void {
    this.expiredSeen = this.core.x.expiredSoFar();
  }

  /**
   * The core counts expired messages per instance as it discards them (in wasm): report what
   * it discarded since the last look, attributed to the channel of the operation that found
   * them (null for sweeps over the whole bus). Called only while someone listens.
   */
  private noticeExpired(channel: string | null): void {
    const now = this.core.x.expiredSoFar();
    if (now === this.expiredSeen) return;
    const count = now - this.expiredSeen;
    this.expiredSeen = now;
    this.emitEvent({ type: 'expired', channel, count });
  }

  // The expired counter is kept by this instance's core instance (it discards them in wasm).
  /**
   * Counters of this instance's own operations (`sent`, `received`, `expired`, `dropped`), and
   * the depths of every non-empty channel of the whole bus.
   */
  override stats(): LayerStats {
    const depths = this.depths();
    return { ...this.counters, expired: this.core.x.expiredSoFar(), notifies: this.core.x.notifiesSoFar(), depths };
  }

  protected async doFlush(): Promise<void> {
    this.core.x.flushAll();
    this.core.x.leaseFlush(this.instance);
  }

  protected depths(): Record<string, number> {
    return this.closed ? {} : this.registry.depths(this.cutoff());
  }

  protected async doClose(): Promise<void> {
    // This instance's leases go back to their channels (a closed holder will not settle
    // them), then its slot in the instance table is freed. Nothing else of it lives in the
    // shared memory (see claimName): only the caches go.
    if (this.sweeper.timer !== undefined) clearInterval(this.sweeper.timer);
    this.liveness?.stop();
    this.reclaimer.close();
    this.holds.close();
    this.borrows.close(); // before instanceFree gives their references back
    this.decodeCache?.close();
    forget(this.lifetime);
    // Closing the creator shuts the bus down: every instance's waits end with LayerClosed.
    if (this.creator) this.core.x.shutdown();
    if (this.liveness?.lost === true) {
      this.core.x.instanceDetach(); // its slot was reclaimed (its leases went back): touch nothing
    } else if (this.instance !== 0) {
      try {
        this.atLeastOnce.giveBackOwn();
      } finally {
        this.core.x.instanceFree(this.instance, 0);
      }
    }
    this.registry.clear();
  }

  // ---- internals -----------------------------------------------------------------------

  private cutoff(): number {
    return Date.now() - this.opts.common.expiryMs;
  }

  protected override checkMessage(message: Message): void {
    if (this.shapes === null) super.checkMessage(message);
    else assertRecords(message, this.shapes);
  }

  protected override encodeChecked(message: Message): Uint8Array {
    return this.shapes === null ? encode(message) : encodeRecords(message, this.shapes);
  }

}

/**
 * `fn(layer)` while `ref` still holds the layer. Made outside the constructor on purpose: a
 * closure made inside it would share its context, which holds `this`, and a timer holding it
 * would keep a forgotten layer alive.
 */
function weakly(ref: WeakRef<SharedLayer>, fn: (layer: SharedLayer) => void): () => void {
  return () => {
    const layer = ref.deref();
    if (layer !== undefined) fn(layer);
  };
}

/**
 * Attach to a bus in this thread; the usual call is in a worker thread.
 *
 * - `attachLayer()`: the bus in this worker's `workerData`, given by the creating thread as
 *   `workerData: workerData(layer, { ...fields })` (or `{ ringbus: layer.handle, ... }`, or
 *   `layer.handle` itself).
 * - `attachLayer(x)`: the same shapes passed explicitly: `layer.handle` (from `workerData`
 *   or a `postMessage`), `{ ringbus: handle, ... }`, or a shared layer of this thread.
 *
 * Throws `TypeError` for anything else (a memory or Redis layer, an object without a
 * handle), {@link LayoutMismatch} for a handle of an incompatible build or a foreign memory,
 * or a handle whose bus-wide options were edited (the bus's options are read from its shared
 * memory; only `wait` and `spinBudget` may differ per instance); `LayerClosed` when the bus
 * was shut down (its creating layer closed); `OutOfSharedMemory` (region `'instances'`) when
 * all instance slots are taken under at-least-once delivery.
 */
export function attachLayer(source?: SharedLayerHandle | BusWorkerData | SharedLayer): SharedLayer {
  if (source === undefined) {
    if (isMainThread) {
      throw new TypeError(
        `attachLayer() with no argument reads the bus from a worker thread's workerData, and this is the main thread; ${HANDOFF_HINT}`,
      );
    }
    return SharedLayer.attach(handleFrom(threadWorkerData, 'attachLayer() (reading workerData)'));
  }
  return SharedLayer.attach(handleFrom(source, 'attachLayer'));
}

/** Create a new shared-memory bus (what `createLayer()` does by default). */
export function createSharedLayer(options: SharedLayerOptions = {}): SharedLayer {
  return SharedLayer.create(options);
}

