/**
 * Accounting of a shared bus region: the public shape of `SharedLayer.memoryStats()` and
 * how it is read from the core. Separate from shared.ts because it is reporting only (no
 * operation uses it) and its fields carry the user's contract, documented here at length.
 * Every figure is a racy read of the core's counters: exact when no operation is in flight.
 *
 * @module
 */

import type { Structures } from '../../codec/records.js';
import { RECORD_BYTES, type Core } from '../../wasm/core.js';

/** Accounting of the shared region (for tests, monitoring and the docs' numbers). */
export interface SharedMemoryStats {
  /** Bytes of the arena (the region minus header and registry). */
  arenaBytes: number;
  /**
   * Free arena bytes: every byte not held by a live block (a block holds its size class, a
   * large block its pages). Free blocks that threads keep cached for their next messages
   * count as free: an allocation that needs them gets them. After the bus is drained and
   * reclaimed it is back at its start.
   */
  freeBytes: number;
  /** Bytes of the pages in use (slab pages of small blocks, and large blocks), free blocks in them included. */
  carvedBytes: number;
  /** Bytes of one arena page (small blocks share pages of one size class; a large block takes whole pages). */
  pageBytes: number;
  /** Pages in the free-page pool, usable for any size. */
  freePages: number;
  /** Bytes of the longest run of free pages: the largest block that fits right now (minus its 16-byte header). */
  largestFreeRun: number;
  /** Channel and group records in use. */
  records: number;
  /**
   * Reclaimed records waiting for their grace period (each {@link SharedMemoryStats.recordBytes}
   * bytes): new channels and groups reuse them at once, the rest goes back to the arena once
   * every layer instance has moved on (within a few hundred ms while instances run; a thread that
   * died without being reaped holds them back).
   */
  pooledRecords: number;
  /** Bytes of one record. */
  recordBytes: number;
  /** Names in the registry. */
  names: number;
  /** Leases out (at-least-once delivery), over the whole bus. */
  leases: number;
  /** Layer instances attached to the bus (not closed, not reaped), over all threads. */
  instances: number;
  /** The records structure table (option `records`); all 0 until an instance with `records: true` sends. */
  structures: StructureTableStats;
}

/** Accounting of the records structure table (see "Records" in docs/core.md). */
export interface StructureTableStats {
  /** Entries taken: published, being written, or dead (their writer died mid-append). */
  reserved: number;
  /** Entries below the publication frontier: published or dead (at most `reserved`). */
  published: number;
  /** The most entries the table holds (new shapes beyond it travel as plain maps). */
  capacity: number;
}

/** Read the accounting of the region of `core` (`structures`: this thread's view of its structure table). */
export function memoryStats(core: Core, structures: Structures): SharedMemoryStats {
  const x = core.x;
  return {
    arenaBytes: x.arenaTotal(),
    freeBytes: x.arenaFree(),
    carvedBytes: x.arenaCarved(),
    pageBytes: x.pageSize(),
    freePages: x.freePages(),
    largestFreeRun: x.longestRun() * x.pageSize(),
    records: x.recordsInUse(),
    pooledRecords: x.recordsPooled(),
    recordBytes: RECORD_BYTES,
    names: x.registryCount(),
    leases: x.leasesHeld(),
    instances: x.instancesLive(),
    structures: structures.stats(),
  };
}
