/**
 * The bus router: in the process that created a hybrid bus, the one reader of the bus'
 * Redis keys. Messages that other machines, Django or Redis-backend processes send to this
 * machine's process-specific channels (direct sends and group sends alike) land in the key
 * `<redis prefix><channel prefix>.<bus>!`, as channels_redis' do for one process; the router
 * pops them in batches, encodes each once and delivers it through shared memory to every
 * channel of this machine its `__asgi_channel__` names, keeping the sender's time (expiry
 * counts from it). One reader per key keeps each channel's order: the oldest first.
 *
 * Channel prefixes: `newChannel('conn')` makes `conn.<bus>!...`, whose messages live in the
 * key of `conn.<bus>!`. The router reads `specific.<bus>!` from the start; an instance that
 * makes a name with another prefix announces it once on the local control channel
 * {@link CONTROL_CHANNEL}, and the router starts a reader for that key. Until the reader runs
 * (a few microseconds after the announcement), messages wait in Redis.
 *
 * Loss: a local channel that is full when its message arrives misses it (counted in the
 * creator's `stats().dropped`, as a group send's full member is); so do the targets of a
 * message that finds no room in the shared memory.
 *
 * @module
 */

import { encode } from '../../codec.js';
import { assertChannelPrefix, ownerPart } from '../../layer.js';
import type { Reader } from '../../redis/reader.js';
import type { SharedLayer } from '../shared.js';
import type { HybridRemote } from './remote.js';

/** The machine-local channel on which instances announce the channel prefixes they use. */
export const CONTROL_CHANNEL = 'ringbus.hybrid.prefixes';

/** The router of one bus; see the module comment. */
export class BusRouter {
  private readonly readers = new Map<string, Reader>();
  private readonly stop = new AbortController();

  /**
   * @param local the creator's shared-memory instance
   * @param remote the creator's Redis side
   * @param bus the bus id
   */
  constructor(
    private readonly local: SharedLayer,
    private readonly remote: HybridRemote,
    private readonly bus: string,
  ) {}

  /** Read `specific.<bus>!` and listen for announced prefixes. */
  start(): void {
    this.watch('specific');
    void this.listenForPrefixes();
  }

  /** Make sure the key of channel prefix `prefix` is read. */
  watch(prefix: string): void {
    const owner = `${prefix}.${this.bus}!`;
    if (this.readers.has(owner) || this.stop.signal.aborted) return;
    this.readers.set(owner, this.remote.readBusKey(owner, (unpacked, score) => {
      const targets = unpacked.channels.filter((c) => ownerPart(c) === owner);
      if (targets.length === 0) {
        this.remote.countDropped(1, owner, 'unroutable');
        this.remote.report('route', new Error(`a message for ${owner} names no channel of this bus in __asgi_channel__`));
        return;
      }
      try {
        this.local.deliverEncoded(targets, encode(unpacked.message), score * 1000);
      } catch (err) {
        // No room in the shared memory (or the bus is closing): this message is lost for its
        // targets, counted; the next ones are tried as they come.
        for (const target of targets) this.remote.countDropped(1, target, 'arrival-full');
        this.remote.report('route', err);
      }
    }));
  }

  /** End: no new readers (those running end as the Redis side closes). */
  close(): void {
    this.stop.abort();
  }

  private async listenForPrefixes(): Promise<void> {
    try {
      for await (const m of this.local.listen(CONTROL_CHANNEL, { signal: this.stop.signal })) {
        const prefix = (m as { prefix?: unknown }).prefix;
        try {
          assertChannelPrefix(prefix as string);
        } catch (err) {
          this.remote.report('route', err);
          continue;
        }
        this.watch(prefix as string);
      }
    } catch (err) {
      if (!this.local.closed && !this.stop.signal.aborted) this.remote.report('route', err);
    }
  }
}
