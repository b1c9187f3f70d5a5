/**
 * At-least-once delivery on the shared layer, JavaScript side: the lease object handed to
 * the caller, the sweep interval, and watching threads for their death. The lease table
 * itself lives in the shared memory (assembly/leases.ts): a lease is a (slot, sequence) pair
 * that any thread can settle, expire or reap.
 *
 * @module
 */

import type { Lease, Message } from '../../layer.js';

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
