/**
 * The events a layer reports to `layer.onEvent(listener)`: messages dropped, messages expired,
 * and messages delivered again under at-least-once delivery. They are the moments that
 * `stats()` counts (`dropped`, `expired`) and the redeliveries it does not, with the channel
 * they concern, so that an application can log them (channels_redis logs a full group member
 * at INFO) or export them as metrics.
 *
 * @module
 */

/** Why messages were dropped. */
export type DropReason =
  /** `groupSend` found a member channel full: that member misses the message (on the shared backend, also a member's eviction under `'drop-oldest'`). */
  | 'group-full'
  /** `full: 'drop-oldest'`: the oldest message of a full channel was evicted to make room. */
  | 'drop-oldest'
  /** Redis: a stored message could not be read (no encryption key opens it, bad bytes). */
  | 'undecodable'
  /** Redis: a message on a process-specific queue names no channel of this layer. */
  | 'unroutable'
  /** Hybrid: a message from another machine (or Django) found its channel on this machine full. */
  | 'arrival-full'
  /**
   * Redis: the layer closed with messages for its own process-specific channels in the
   * process (read ahead or buffered, not yet received); nobody else may receive them.
   */
  | 'closed';

/** Messages were dropped (counted in `stats().dropped`). */
export interface DroppedEvent {
  /** Discriminant. */
  readonly type: 'dropped';
  /** The channel that lost them (null when the backend cannot tell). */
  readonly channel: string | null;
  /** The group, when a `groupSend` dropped them. */
  readonly group?: string;
  /** How many messages. */
  readonly count: number;
  /** Why. */
  readonly reason: DropReason;
}

/** Messages older than `expiry` were discarded instead of delivered (counted in `stats().expired`). */
export interface ExpiredEvent {
  /** Discriminant. */
  readonly type: 'expired';
  /** The channel they were found on (null: found by a sweep over the whole bus). */
  readonly channel: string | null;
  /** How many messages. */
  readonly count: number;
}

/**
 * At-least-once delivery: a message was handed out again (`receiveLease` or `listen` with
 * `lease: true` returned it with `deliveries` > 1), because an earlier lease was nacked, timed
 * out (`leaseTimeout`), or its holder's thread or process died.
 */
export interface RedeliveredEvent {
  /** Discriminant. */
  readonly type: 'redelivered';
  /** The channel it was received from. */
  readonly channel: string;
  /** Its delivery count (2 on the first redelivery). */
  readonly deliveries: number;
}

/** What `onEvent` listeners receive. */
export type LayerEvent = DroppedEvent | ExpiredEvent | RedeliveredEvent;

/** A listener of {@link LayerEvent}s. It runs synchronously inside the layer's call: keep it short. */
export type LayerEventListener = (event: LayerEvent) => void;
