/**
 * Messages into and out of the shared memory for one layer instance: encode a message
 * straight into a fresh block (`store`), store already encoded bytes (`storeBytes`), and copy
 * a message out and decode the copy (`take`, `copyOut`). Separate from shared.ts because it
 * is one job with its own state (the reused private inbox) and its own rules (alignment
 * padding, when a message gets a buffer of its own); the layer's fast paths call it directly,
 * one monomorphic method call, with no host object in between on the per-message path.
 *
 * A block made here belongs to the caller (refcount 1) until it is queued or released; the
 * block layout (length word, alignment padding) is shared/borrow.ts's.
 *
 * @module
 */

import { decodeRecords, decodeRecordsOwned, encodeStaged } from '../../codec.js';
import type { Structures } from '../../codec/records.js';
import { MessageTooLarge, OutOfSharedMemory } from '../../errors.js';
import type { Message } from '../../layer.js';
import { BLOCK_HEADER, type Core } from '../../wasm/core.js';
import type { Counters } from '../base.js';
import { PADDED_MAX, PAD_SHIFT, messageLength, messageStart, ownBuffer } from './borrow.js';
import type { DecodeCache } from './fanout.js';

/**
 * Messages of at least this many encoded bytes are copied out of the shared memory into a
 * buffer of their own and decoded without copying their byte strings again (below it, the
 * reused inbox and a copy per byte string cost less than a fresh buffer per message).
 */
const OWNED_MIN = 1024;

/** The cold-path services the message copies need from their layer (allocation relief). */
export interface MessagesHost {
  /** Retry `attempt` after bounded relief steps; 0 when it still fails. */
  relieve(attempt: () => number): number;
  /** Why `bytes` do not fit in the arena, for an error message. */
  shortage(bytes: number): string;
}

/** Stores and copies out the messages of one layer instance. */
export class Messages {
  /** Private (non-shared) buffer messages are copied into before decoding. */
  private inbox = new Uint8Array(4096);

  /**
   * @param structures this thread's view of the bus's records structure table (decoding)
   * @param shapes the same for encoding; null: plain msgpack (option `records`)
   * @param decodeCache decode once per thread for fan-out (option `frozenMessages`)
   */
  constructor(
    private readonly core: Core,
    private readonly maxMessageSize: number,
    private readonly counters: Counters,
    private readonly structures: Structures,
    private readonly shapes: Structures | null,
    private readonly decodeCache: DecodeCache | undefined,
    private readonly host: MessagesHost,
  ) {}

  /**
   * Encode and store `message` in a fresh block (refcount 1, owned by the caller). The
   * encoding is written straight into the block (`encodeStaged`: a large byte string is
   * copied once, from the message into the arena); when the arena needs relief first, it is
   * flattened into a copy of its own before (relief may run event listeners, which may encode).
   */
  store(message: Message, now: number = Date.now()): number {
    const enc = encodeStaged(message, this.shapes);
    const size = enc.length;
    const max = this.maxMessageSize;
    if (size > max) throw new MessageTooLarge(size, max);
    // Pad the start so that the first large byte string lands aligned as its source (blocks
    // are 8-aligned; see PAD_SHIFT), where the padded block still fits the size limit.
    const pad = enc.align !== 0 && size + enc.align <= Math.min(max, PADDED_MAX) ? enc.align : 0;
    const h = this.core.x.alloc(size + pad, now);
    if (h === 0) return this.storeBytes(enc.bytes().slice(), now);
    if (pad !== 0) this.core.u32[(h + 4) >>> 2] = (size | (pad << PAD_SHIFT)) >>> 0;
    enc.write(this.core.u8, h + BLOCK_HEADER + pad);
    return h;
  }

  /** As {@link storeBytes}, for bytes a caller encoded (MessageTooLarge over `maxMessageSize`). */
  storeEncoded(bytes: Uint8Array, timeMs: number): number {
    if (bytes.length > this.maxMessageSize) throw new MessageTooLarge(bytes.length, this.maxMessageSize);
    return this.storeBytes(bytes, timeMs);
  }

  /** Store encoded `bytes` in a fresh block stamped `timeMs` (refcount 1, owned by the caller). */
  storeBytes(bytes: Uint8Array, timeMs: number): number {
    const size = bytes.length;
    const x = this.core.x;
    let h = x.alloc(size, timeMs);
    if (h === 0) {
      h = this.host.relieve(() => x.alloc(size, timeMs));
      if (h === 0) throw new OutOfSharedMemory('arena', `no room for a ${size}-byte message: ${this.host.shortage(size)}`);
    }
    this.core.u8.set(bytes, h + BLOCK_HEADER);
    return h;
  }

  /** Copy message `h` out of the shared memory, release it, count it received, decode the copy. */
  take(h: number): Message {
    if (this.decodeCache !== undefined) {
      this.counters.received++;
      return this.decodeCache.take(h, (m) => this.copyOut(m));
    }
    const bytes = this.copyMessage(h);
    this.core.x.release(h);
    this.counters.received++;
    return this.decodeCopy(bytes);
  }

  /** Decode a copy of message `h`, which stays where it is (a lease slot owns it). */
  copyOut(h: number): Message {
    return this.decodeCopy(this.copyMessage(h));
  }

  /**
   * Copy message `h` out of the shared memory (one `set`, never a `slice` of shared memory):
   * a message of at least {@link OWNED_MIN} bytes into a buffer of its own, which its byte
   * strings then view (decodeOwned: no second copy of a large payload, one ArrayBuffer for
   * all its byte strings); a smaller one into the reused private inbox.
   */
  private copyMessage(h: number): Uint8Array {
    const len = messageLength(this.core.u32, h);
    const start = messageStart(this.core.u32, h);
    let into: Uint8Array;
    // A padded block's encoding goes to the same offset mod 8 of a buffer of its own (a copy
    // between addresses aligned alike is the fast one); the buffer holds zeros before it.
    const skew = start & 7;
    if (len >= OWNED_MIN) into = ownBuffer(len, skew);
    else {
      if (this.inbox.length < len) this.inbox = new Uint8Array(Math.max(len, this.inbox.length * 2));
      into = this.inbox;
    }
    into.set(this.core.u8.subarray(start, start + len));
    return into === this.inbox ? into.subarray(0, len) : into;
  }

  /** Plain msgpack, or records of this bus's structure table (any instance may have written them). */
  private decodeCopy(bytes: Uint8Array): Message {
    return bytes.buffer === this.inbox.buffer ? decodeRecords(bytes, this.structures) : decodeRecordsOwned(bytes, this.structures);
  }
}
