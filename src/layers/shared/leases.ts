/**
 * At-least-once delivery on the shared layer, JavaScript side: taking under a lease,
 * settling, sweeping expired leases and giving back a dead thread's ({@link AtLeastOnce}),
 * the lease object handed to the caller, the sweep interval, and watching threads for their
 * death. The lease table itself lives in the shared memory (assembly/leases.ts): a lease is
 * a (slot, sequence) pair that any thread can settle, expire or reap. Separate from shared.ts
 * because only an at-least-once bus uses any of it, and none of it is on the fast paths.
 *
 * @module
 */

import { OutOfSharedMemory } from '../../errors.js';
import type { Lease, Message, ReceiveOptions } from '../../layer.js';
import type { WaitingCallHost } from './batch.js';
import { parkUntil } from './park.js';
import { MAX_SPIN_BACKOFF, type Registry } from './registry.js';

/** What a lease calls on its layer to settle. */
export interface LeaseSettler {
  /** Ack or nack lease (slot, seq); true if it was still held. */
  settleLease(slot: number, seq: number, how: 'ack' | 'nack'): boolean;
}

/** A lease of the shared layer. `ack` / `nack` are bound: destructuring them is fine. */
export class SharedLease implements Lease {
  /**
   * @param settler the layer instance that took it
   * @param slot its slot in the lease table
   * @param seq the slot's sequence number when it was taken
   * @param message a fresh copy of the message
   * @param deliveries 1 on the first delivery, then + 1 per redelivery
   */
  constructor(
    private readonly settler: LeaseSettler,
    private readonly slot: number,
    private readonly seq: number,
    readonly message: Message,
    readonly deliveries: number,
  ) {}

  /** Settle the message for good. Resolves `true` if the lease was still held. */
  readonly ack = async (): Promise<boolean> => this.settler.settleLease(this.slot, this.seq, 'ack');
  /** Give the message back to the head of its channel now. Resolves `true` if the lease was still held. */
  readonly nack = async (): Promise<boolean> => this.settler.settleLease(this.slot, this.seq, 'nack');
}

/**
 * How often an instance sweeps the lease table for expired leases: a quarter of the lease
 * timeout, between 5 ms and 1 s (so a lease comes back at most a quarter late, and an idle
 * bus costs one scan of the table per second per instance).
 */
export function sweepIntervalMs(leaseTimeoutMs: number): number {
  return Math.min(1000, Math.max(5, Math.floor(leaseTimeoutMs / 4)));
}

/** The part of a `Worker` that watching needs (its thread id and its exit event). */
export interface WatchableWorker {
  /** The worker's thread id (`worker.threadId`; -1 once it exited). */
  readonly threadId: number;
  /** Subscribe to its exit. */
  once(event: 'exit', listener: (code: number) => void): unknown;
}

/** True when `worker` looks like a `node:worker_threads` Worker. */
export function isWatchable(worker: unknown): worker is WatchableWorker {
  return (
    worker !== null &&
    typeof worker === 'object' &&
    typeof (worker as WatchableWorker).threadId === 'number' &&
    typeof (worker as WatchableWorker).once === 'function'
  );
}

/** What at-least-once delivery needs from its shared layer. */
export interface AtLeastOnceHost extends WaitingCallHost {
  readonly registry: Registry;
  /** The layer instance: what its leases settle through. */
  readonly settler: LeaseSettler;
  /** This instance's id in the instance table (the owner of its leases). */
  readonly instance: number;
  /** Date.now() minus the expiry: messages sent at or before it are expired. */
  cutoff(): number;
  /** Decode a copy of message `h`, which stays where it is (a lease slot owns it). */
  copyOut(h: number): Message;
  /** Report to event listeners what the core found expired while working on `channel`. */
  noticeExpired(channel: string): void;
}

/**
 * The lease side of one layer instance: takes into the shared lease table, settles, sweeps
 * expired leases (on a timer of the layer and on takes), gives back a dead thread's leases.
 * A class of its own because it carries the instance's sweep schedule.
 */
export class AtLeastOnce {
  private readonly host: AtLeastOnceHost;
  /** When a take sweeps next (the timer sweeps too; a take need not wait for it). */
  private nextSweep = 0;

  constructor(host: AtLeastOnceHost) {
    this.host = host;
  }

  /** Take a message of `channel` under a lease, waiting as `options` say. */
  async receive(channel: string, options: ReceiveOptions | undefined): Promise<Lease> {
    const { core, opts, registry, strategy, instance } = this.host;
    const x = core.x;
    const rec = registry.pinForWait(channel);
    try {
      const gen = registry.channels.get(channel)?.gen ?? x.lastGen();
      let taken = { slot: 0, seq: 0, h: 0, deliveries: 0 };
      const attempt = (): number => {
        const rc = x.leaseTake(rec, gen, instance, this.host.cutoff(), Date.now() + opts.tradeoffs.leaseTimeoutMs);
        if (rc === -1) {
          throw new OutOfSharedMemory('leases', `no free lease slot: ${opts.maxLeases} leases are out (option maxLeases)`);
        }
        if (rc <= 0) return 0;
        taken = { slot: rc - 1, seq: x.lastLeaseSeq(), h: x.lastLeaseHandle(), deliveries: x.lastLeaseDeliveries() };
        return rc;
      };
      if (Date.now() >= this.nextSweep) this.sweepQuietly();
      let got = attempt();
      const ref = registry.channels.get(channel);
      if (got === 0 && strategy.wait === 'adaptive' && options?.timeout !== 0 && ref !== undefined) {
        if (ref.spinSkip > 0) ref.spinSkip--;
        else {
          // As receive: spin first, on the cheap depth word (a take claims a slot and pins).
          for (let i = strategy.spinBudget; got === 0 && i > 0; i--) {
            if (x.depth(rec) > 0) got = attempt();
          }
          ref.spinBackoff = got !== 0 ? 0 : Math.min(MAX_SPIN_BACKOFF, Math.max(1, ref.spinBackoff * 2));
          ref.spinSkip = ref.spinBackoff;
        }
      }
      if (got === 0) {
        const off = core.off;
        await parkUntil(
          core.i32,
          (rec + off.wake) >> 2,
          (rec + off.parked) >> 2,
          `receiveLease('${channel}')`,
          options,
          this.host.closeSignal,
          strategy,
          attempt,
          this.host.parkedCounter,
        );
      }
      // The message stays in the lease slot until it is settled: copy it out, do not release it.
      let message: Message;
      try {
        message = this.host.copyOut(taken.h);
      } catch (err) {
        x.leaseAck(taken.slot, taken.seq, instance); // undecodable: redelivering cannot help
        throw err;
      }
      this.host.counters.received++;
      return new SharedLease(this.host.settler, taken.slot, taken.seq, message, taken.deliveries);
    } finally {
      registry.unpinAfterWait(rec);
      this.host.noticeExpired(channel);
    }
  }

  /** Ack or nack lease (slot, seq); true if it was still held. */
  settle(slot: number, seq: number, how: 'ack' | 'nack'): boolean {
    const x = this.host.core.x;
    const instance = this.host.instance;
    if (how === 'ack') return x.leaseAck(slot, seq, instance) === 1;
    return this.withDeadLetters((dead, max) => x.leaseNack(slot, seq, instance, dead, max)) !== 0;
  }

  /** Give back the leases of thread `thread`'s instances and detach them (see SharedLayer.reapThread). */
  reapThread(thread: number): number {
    const x = this.host.core.x;
    const instance = this.host.instance;
    let n = 0;
    for (let id = x.instanceOfThread(thread, 1); id !== 0; id = x.instanceOfThread(thread, id + 1)) {
      if (id === instance) continue;
      n += this.withDeadLetters((dead, max) => x.leaseSweep(Date.now(), instance, dead, max, id));
      x.instanceFree(id, 1); // also frees a message it was sending or receiving when it died
    }
    return n;
  }

  /** Requeue expired leases (the sweep timer, and takes); a failure waits for the next sweep. */
  sweepQuietly(): void {
    const { core, opts, instance } = this.host;
    this.nextSweep = Date.now() + sweepIntervalMs(opts.tradeoffs.leaseTimeoutMs);
    try {
      this.withDeadLetters((dead, max) => core.x.leaseSweep(Date.now(), instance, dead, max, 0));
    } catch {
      // no room to create the dead-letter channel right now: the next sweep tries again
    }
  }

  /** At close: this instance's own leases go back to their channels (a closed holder will not settle them). */
  giveBackOwn(): void {
    const x = this.host.core.x;
    const instance = this.host.instance;
    try {
      this.withDeadLetters((dead, max) => x.leaseSweep(Date.now(), instance, dead, max, instance));
    } catch {
      // No room for the dead-letter channel: the leases stay out and time out as usual.
    }
  }

  /** Run `fn` with the dead-letter channel pinned (0 when maxDeliveries is unlimited). */
  private withDeadLetters(fn: (dead: number, maxDeliveries: number) => number): number {
    const t = this.host.opts.tradeoffs;
    if (!Number.isFinite(t.maxDeliveries)) return fn(0, 0);
    const dead = this.host.registry.pinChannel(t.deadLetterChannel);
    try {
      return fn(dead, t.maxDeliveries);
    } finally {
      this.host.core.x.unpinRecord(dead);
    }
  }
}
