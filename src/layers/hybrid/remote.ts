/**
 * The Redis side of a hybrid layer instance: a Redis layer (same keys, same wire format,
 * same sharding, so Django and Redis-backend processes take part) with what the hybrid
 * needs on top: a group send that leaves this machine's own members out and names them, and
 * the reader of this machine's bus keys. Connections open at the first use (an attached
 * worker that never talks to another machine never connects).
 *
 * @module
 */

import { shardIndex } from '../../redis/crc32.js';
import { Reader } from '../../redis/reader.js';
import type { DropReason } from '../../events.js';
import type { Unpacked } from '../../redis/wire.js';
import type { Message } from '../../layer.js';
import { RedisLayer, type RedisLayerOptions } from '../redis.js';

/** Most members one pop of a bus key takes (the key is this machine's alone). */
const BUS_BATCH = 64;

/** What the bus reader hands over: a message for this machine, its target channels, its send time (epoch s). */
export type BusDelivery = (unpacked: Unpacked, score: number) => void;

/** The Redis side of one hybrid instance; see the module comment. */
export class HybridRemote extends RedisLayer {
  /**
   * @param options the Redis-side options
   * @param bus this machine's bus id (the owner id of its `!` channels)
   */
  constructor(
    options: RedisLayerOptions,
    private readonly bus: string,
  ) {
    super(options, bus);
  }

  /** Connect to every server (each within `operationTimeout`). */
  async connectAll(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.connect('createLayer')));
  }

  /** Encode and size-check `message` as a send to Redis would. */
  encodeMessage(message: Message): Buffer {
    return this.encode(message);
  }

  /** The servers' count (the ring's size decides the shard of every name). */
  get serverCount(): number {
    return this.servers.length;
  }

  /**
   * Group send of encoded `body` to every member of `group` whose key is not this machine's
   * (one stored message per key, as channels_redis); resolves with this machine's members,
   * which the caller delivers through shared memory.
   */
  groupSendOutside(group: string, body: Buffer): Promise<string[]> {
    return this.groupSendExcept(group, body, `.${this.bus}!`);
  }

  /**
   * A reader of the Redis key of owner part `owner` (`<prefix>.<bus>!`), running until this
   * layer closes: every message that arrives there (from other machines, Django, Redis-
   * backend processes) is unpacked (expired and unreadable ones are counted and dropped) and
   * handed to `deliver`.
   */
  readBusKey(owner: string, deliver: BusDelivery): Reader {
    const index = shardIndex(owner, this.servers.length);
    const reader = new Reader(this.server(index), this.key(owner), false, {
      demand: () => !this.closed,
      batch: () => BUS_BATCH,
      closed: () => this.closed,
      deliver: (member, score) => {
        const unpacked = this.unpack(member, score);
        if (unpacked !== undefined) deliver(unpacked, score);
      },
      report: (err) => this.warn('receive', err),
      idle: () => undefined,
    });
    reader.kick();
    return reader;
  }

  /** Count (and report to event listeners) messages the bus router could not deliver. */
  countDropped(n: number, channel: string | null, reason: DropReason): void {
    this.noteDropped(n, channel, reason);
  }

  /** Warn once per kind, as the Redis layer does for its own failures. */
  report(kind: string, err: unknown): void {
    this.warn(kind, err);
  }
}
