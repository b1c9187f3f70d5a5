/**
 * At-least-once delivery over Redis: leases kept on the server, next to the channel's key,
 * so that they outlive the process holding them (see LEASE_TAKE in scripts.ts).
 *
 * Taking, settling and reclaiming are each one atomic script: a message is always in
 * exactly one place (the queue, the lease set, or the dead-letter queue), so a holder that
 * dies mid-way loses nothing: its leases pass their deadline and the next taker of that
 * channel puts them back first. Settling checks the delivery's token, so a holder whose
 * lease expired (and whose message went to someone else) cannot settle the new delivery.
 *
 * @module
 */

import type { Lease, Message } from '../layer.js';

/** The keys of a leased channel on one server. */
export interface LeaseKeys {
  /** The channel's queue (the key every backend and channels_redis use). */
  queue: string;
  /** Sorted set: member -> lease deadline (epoch seconds). */
  leases: string;
  /** Hash: member -> "token|deliveries|original score". */
  meta: string;
  /** The dead-letter channel's queue. */
  dead: string;
}

/** The lease keys of the queue `queue`, with dead letters going to `dead`. */
export function leaseKeys(queue: string, dead: string): LeaseKeys {
  return { queue, leases: `${queue}$ringbus-leases`, meta: `${queue}$ringbus-lease-meta`, dead };
}

/** Settle a lease on the server: resolves true when the lease was still held. */
export type Settle = (mode: 'ack' | 'nack') => Promise<boolean>;

/** A message held under a lease; see {@link Lease}. */
export class RedisLease implements Lease {
  private settled = false;

  /**
   * @param message the decoded message
   * @param deliveries 1 on first delivery, then one more each time
   * @param deadlineMs when the lease expires (epoch ms)
   * @param settle settles it on the server
   */
  constructor(
    readonly message: Message,
    readonly deliveries: number,
    private readonly deadlineMs: number,
    private readonly settle: Settle,
  ) {}

  // Arrow properties: `const { message, ack } = await layer.receiveLease(ch)` must work.
  /** Settle for good. Resolves true if the lease was still held. */
  readonly ack = (): Promise<boolean> => this.finish('ack');

  /** Give the message back to the head of its channel now. Resolves true if the lease was still held. */
  readonly nack = (): Promise<boolean> => this.finish('nack');

  private async finish(mode: 'ack' | 'nack'): Promise<boolean> {
    // Past its deadline the lease is expired even if nobody has reclaimed it yet: its
    // message will be redelivered, so settling now would be a lie.
    if (this.settled || Date.now() > this.deadlineMs) return false;
    this.settled = true;
    return this.settle(mode);
  }
}
