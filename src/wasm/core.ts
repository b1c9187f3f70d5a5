/**
 * Loading the shared-memory core (build/core.wasm, compiled from assembly/) and a typed view
 * of its exports. One compiled `WebAssembly.Module` per process, instantiated once per layer
 * instance (per thread) against the one shared `WebAssembly.Memory`.
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import { wasm, type WasmGlobal, type WasmMemory, type WasmModule } from './api.js';

/** The functions exported by core.wasm (see assembly/index.ts for each one's contract). */
export interface CoreExports {
  layoutVersion(): number;
  heapBase(): number;
  headerBase(): number;
  init(size: number, buckets: number, maxMessageSize: number): number;
  check(): number;
  headerVersion(): number;
  nameSlots(): number;
  nameSlotCount(): number;
  nameSlotSize(): number;
  nameSlotData(): number;
  regionSize(): number;
  maxMessageSize(): number;
  registryBuckets(): number;
  alloc(len: number, time: number): number;
  release(h: number): void;
  allocScratch(len: number): number;
  lookup(kind: number, name: number, len: number, create: number, cap: number, full: number, word: number): number;
  lastGen(): number;
  lastStatus(): number;
  lastCreated(): number;
  pinRecord(r: number, gen: number): number;
  unpinRecord(r: number): void;
  holdTable(id: number): number;
  holdEntries(): number;
  holdRequestWord(): number;
  decodeCacheTable(id: number): number;
  decodeCacheEntries(): number;
  decodeCacheKeep(entry: number, h: number): void;
  decodeCacheDrop(entry: number): void;
  blockRefs(h: number): number;
  holdRecord(r: number, gen: number, entry: number): number;
  releaseHold(entry: number): void;
  pinTracked(r: number, gen: number, word: number): number;
  unpinTracked(r: number, word: number): void;
  parkEnter(count: number, word: number): void;
  parkLeave(count: number, word: number): void;
  sweep(n: number, groupCutoff: number, messageCutoff: number): number;
  send(r: number, gen: number, h: number): number;
  pushPinned(r: number, h: number): number;
  recv(r: number, gen: number, cutoff: number): number;
  popPinned(r: number, cutoff: number): number;
  dropOldest(r: number): number;
  dropExpired(r: number, cutoff: number): number;
  lastExpired(): number;
  expiredSoFar(): number;
  notifiesSoFar(): number;
  depth(r: number): number;
  ringFill(r: number): number;
  blockLength(h: number): number;
  groupAdd(g: number, c: number, now: number, cutoff: number): number;
  groupDiscard(g: number, c: number, cutoff: number): number;
  groupSend(g: number, h: number, cutoff: number, scratch: number, scratchCap: number): number;
  lastDropped(): number;
  groupSize(g: number): number;
  slots(): number;
  pinAt(i: number): number;
  kindOf(r: number): number;
  nextDepth(from: number, cutoff: number, out: number): number;
  lastDepth(): number;
  lastNameLength(): number;
  lastExpiredTotal(): number;
  flushAll(): void;
  arenaFree(): number;
  arenaTotal(): number;
  arenaCarved(): number;
  recordsInUse(): number;
  recordsPooled(): number;
  pageSize(): number;
  freePages(): number;
  longestRun(): number;
  trimPages(n: number, all: number): number;
  magazinesFlush(): number;
  magazineBytes(): number;
  magazineDepot(): number;
  magazineHeld(id: number): number;
  magazineSlots(): number;
  epochWord(): number;
  announceOffset(): number;
  recordLive(r: number, gen: number): number;
  graceAdvance(): number;
  graceDrain(max: number): number;
  untrackedInstance(delta: number): void;
  registryCount(): number;
  setupTables(leases: number, instances: number): number;
  instanceClaim(thread: number): number;
  instanceSlot(id: number): number;
  instanceOfThread(thread: number, from: number): number;
  instancesLive(): number;
  instanceFree(id: number, dead: number): void;
  leaseTake(r: number, gen: number, me: number, cutoff: number, deadline: number): number;
  lastLeaseSeq(): number;
  lastLeaseHandle(): number;
  lastLeaseDeliveries(): number;
  leaseAck(slot: number, seq: number, me: number): number;
  leaseNack(slot: number, seq: number, me: number, dead: number, maxDeliveries: number): number;
  leaseSweep(now: number, me: number, dead: number, maxDeliveries: number, deadOwner: number): number;
  leaseFlush(me: number): void;
  leasesHeld(): number;
  instanceToken(): number;
  instanceDetach(): void;
  instanceSweepStale(now: number, stale: number, nowMs: number, me: number, dead: number, maxDeliveries: number): number;
  setBusOptions(addr: number, len: number): void;
  busOptionsAddr(): number;
  busOptionsLen(): number;
  /** Address of the header word holding the records structure table's address (src/codec/records.ts). */
  recordsWord(): number;
  closedWord(): number;
  busClosed(): number;
  shutdown(): number;
  OFF_WAKE: WasmGlobal;
  OFF_PARKED: WasmGlobal;
  OFF_SPACE: WasmGlobal;
  OFF_SPARKED: WasmGlobal;
}

/** Record kinds of the registry. */
export const KIND_CHANNEL = 1;
/** Record kinds of the registry. */
export const KIND_GROUP = 2;
/** Full policies as the core knows them. */
export const FULL_CODES = { reject: 0, 'drop-oldest': 1, wait: 2 } as const;
/** Added to the full code passed to `lookup` to create a LIFO channel. */
export const LIFO_FLAG = 256;
/** Slots of the instance table (layer instances attached at once, over all threads). */
export const INSTANCE_SLOTS = 4096;
/** `lastStatus()` values after a failed lookup. */
export const STATUS = { ok: 0, registryFull: 1, arenaFull: 2, notFound: 3 } as const;
/** Bytes before a block's payload (refcount, length, send time). */
export const BLOCK_HEADER = 16;
/** Bytes of one group member entry in a snapshot. */
export const MEMBER_ENTRY = 16;
/** Bytes of a channel or group record (an arena block; see assembly/epoch.ts for its reuse). */
export const RECORD_BYTES = 512;

let compiled: WasmModule | undefined;

/** The compiled core, loaded once per process (synchronously: it is small). */
export function coreModule(): WasmModule {
  if (compiled === undefined) {
    const url = new URL('../../build/core.wasm', import.meta.url);
    let bytes: Buffer;
    try {
      bytes = readFileSync(url);
    } catch (err) {
      throw new Error(`ringbus: cannot read the shared-memory core ${url.pathname} (run \`npm run build:wasm\`)`, {
        cause: err,
      });
    }
    compiled = new wasm.Module(bytes);
  }
  return compiled;
}

/** One instance of the core in this thread, bound to the shared memory. */
export class Core {
  /** The core's functions. */
  readonly x: CoreExports;
  /** Byte view of the whole shared memory (the memory never grows, so views stay valid). */
  readonly u8: Uint8Array;
  /** Int32 view of the whole shared memory, for Atomics.wait / waitAsync / notify. */
  readonly i32: Int32Array;
  /** Uint32 view of the whole shared memory (block lengths). */
  readonly u32: Uint32Array;
  /** Offsets of the wake words inside a channel record. */
  readonly off: { wake: number; parked: number; space: number; sparked: number };

  /**
   * @param module the compiled core
   * @param memory the shared memory of the bus
   */
  constructor(module: WasmModule, memory: WasmMemory) {
    const instance = new wasm.Instance(module, {
      env: {
        memory,
        abort(_msg: number, _file: number, line: number, col: number): never {
          throw new Error(`ringbus core aborted at ${line}:${col}`);
        },
      },
    });
    this.x = instance.exports as unknown as CoreExports;
    this.u8 = new Uint8Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
    this.u32 = new Uint32Array(memory.buffer);
    this.off = {
      wake: this.x.OFF_WAKE.value as number,
      parked: this.x.OFF_PARKED.value as number,
      space: this.x.OFF_SPACE.value as number,
      sparked: this.x.OFF_SPARKED.value as number,
    };
  }
}
