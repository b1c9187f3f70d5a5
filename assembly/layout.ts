// Memory map of the ringbus shared region, and the layout header that describes it.
//
// Every thread instantiates core.wasm against ONE shared WebAssembly.Memory. Wasm globals,
// the AssemblyScript heap and data segments are per instance (data segments are even
// re-applied at each instantiation), so nothing shared lives there: all shared state sits at
// addresses computed from the header below, which lives at the fixed address HEADER_BASE,
// above `__heap_base` (checked by `init`/`check`).
//
//   0 .. HEADER_BASE            per-instance static data of the module (never shared state)
//   HEADER_BASE (4 KiB)         layout header: magic, version, sizes and offsets of regions,
//                               page-allocator addresses, class current-page hints, the
//                               reclamation epoch and the limbo-list heads of reclaimed records
//   name slots (32 KiB)         NAME_SLOTS x 128 bytes: [owner word][pad][name bytes]; a thread
//                               claims one (CAS 0 -> 1) for the length of one call that passes
//                               a name to the core or gets one back, then frees it. Nothing is
//                               held per instance, so attaching costs no shared memory and a
//                               terminated thread leaks at most the slot of its call in flight.
//   registry                    buckets * 32 bytes: name -> record table (registry.ts)
//   page metadata               a 32-byte descriptor per page, the free-page bitmap, one
//                               "may have room" bitmap per size class (arena.ts)
//   arena .. end of memory      PAGE_SIZE pages (PAGE_SIZE-aligned): slab pages of one size
//                               class each, and runs of pages for large blocks: messages,
//                               channel/group records, rings, member arrays, tables
//
// The memory is created with initial == maximum and never grown, so `memory.buffer` never
// changes and no thread ever has to re-read it.
//
// Block format (arena.ts): [0] refcount (or free-list link), [4] payload length,
// [8] f64 send time in ms (messages), [16..] payload. A handle is the block address.
//
// Record format (a 512-byte block, registry.ts / queue.ts / groups.ts), offsets from the block.
// A record is a slab block of class 512 in a PAGE_SIZE-aligned page, so it starts on a
// 128-byte boundary (a pair of 64-byte cache lines, which the adjacent-line prefetcher moves
// together), and the words written by different threads sit in pairs of their own: a
// producer's push writes only the enqueue pair (and the ring slot), a consumer's pop only the
// dequeue pair; both only READ the config and wake lines while nobody parks.
//   line 0..2 (0..191): 16 ctl (u64: pins | DEAD | generation | epoch, see registry.ts)
//            24 kind   28 slot address   32 name hash   36 name length   40..139 name bytes
//   channel config (read-mostly): 144 capacity  148 ring  152 ring slots  156 full policy
//            160 memberships  164 order (0 fifo, 1 lifo)  168 retired epoch (epoch.ts)
//            176 stack head (u64 tagged, stack.ts: the LIFO queue, or the FIFO redelivery lane)
//   group:   144 members word (u64: member-array address | version << 32)
//   line 3 (192..255), wake words: 192 wake  196 parked receivers  200 space (wake word of
//            senders waiting for room)  204 parked senders
//            212 receiver tokens  220 sender tokens (wake.ts: parks not notified yet; each
//            sits ARM_DELTA = 16 bytes after its parked counter)
//   lines 4-5 (256..383): enqueue position (u64)
//   lines 6-7 (384..511): dequeue position (u64)

/** Bump when anything in this file changes meaning: attaching checks it. */
export const LAYOUT_VERSION: u32 = 10;
/** 'RBUS' */
export const MAGIC: u32 = 0x53554252;

export const HEADER_BASE: usize = 65536;
export const HEADER_SIZE: usize = 4096;
export const NAME_SLOTS: u32 = 256;
export const NAME_SLOT_SIZE: u32 = 128;
/** Offset of the name bytes inside a name slot. */
export const NAME_SLOT_DATA: u32 = 16;

// Header fields (offsets from HEADER_BASE).
export const H_MAGIC: usize = 0;
export const H_VERSION: usize = 4;
export const H_SIZE: usize = 8; // total memory bytes
export const H_REG: usize = 12; // registry address
export const H_BUCKETS: usize = 16; // registry bucket count (power of two)
export const H_ARENA: usize = 20; // arena start
export const H_END: usize = 24; // arena end
export const H_PAGES: usize = 28; // pages in the arena (arena.ts)
export const H_MAXMSG: usize = 32; // maxMessageSize
export const H_SWEEP: usize = 36; // registry sweep cursor (atomic)
export const H_HOLDREQ: usize = 40; // bumped by a full reclaim: every instance drops its held pins (holds.ts)
export const H_RECFREE: usize = 48; // reclaimed records waiting for their grace period (registry.ts)
export const H_RECTOTAL: usize = 52; // blocks held as records (live + waiting)
export const H_NAMES: usize = 56; // name slots address
// The page allocator (arena.ts) and record reclamation (registry.ts): bytes 64..2047.
export const H_DESC: usize = 64; // page descriptor table address
export const H_FREEMAP: usize = 68; // page pool bitmap address (u64 words, 1 = free)
export const H_PARTIAL: usize = 72; // per-class "may have room" bitmaps, SMALL_CLASSES x H_MAPWORDS words
export const H_MAPWORDS: usize = 76; // u64 words per bitmap
export const H_EPOCH: usize = 80; // reclamation epoch (registry.ts), u32
export const H_UNTRACKED: usize = 84; // layer instances without an instance slot (they hold grace periods back)
export const H_PAGESWEEP: usize = 88; // page-trim cursor (atomic)
export const H_LIMBO: usize = 96; // 3 x u64 tagged heads: reclaimed records by epoch % 3
export const H_CURRENT: usize = 128; // SMALL_CLASSES x u32: current page + 1 of each class (a hint)
export const H_DEPOT: usize = 1024; // magazine depot (magazine.ts): MAG_CLASSES x u64 tagged heads
export const H_DEPOTN: usize = 1200; // MAG_CLASSES x i32: chains in each class's depot
export const H_MAGTAB: usize = 1296; // address of the magazine tables (MAG_SLOTS x MAG_STRIDE bytes, 0: none)
/** Size classes served from slab pages (classOf(PAGE_SIZE / 2) + 1, arena.ts). */
export const SMALL_CLASSES: u32 = 33;
// Trade-off tables (leases.ts), allocated from the arena when the bus is created.
export const H_LEASES: usize = 2048; // lease table address (0: at-most-once bus, no table)
export const H_LEASECAP: usize = 2052; // lease slots
export const H_INST: usize = 2056; // instance table address
export const H_INSTCAP: usize = 2060; // instance slots
// Lifetime of the bus (lifetime.ts): bytes 2304..2559 of the header.
export const H_CLOSED: usize = 2304; // 1 once the creating layer shut the bus down (atomic)
export const H_OPTS: usize = 2308; // address of the bus options text (UTF-8 JSON), 0: none
export const H_OPTSLEN: usize = 2312; // its length in bytes
// Records codec (src/codec/records.ts): address of the shared structure table, 0 until an
// instance with `records: true` allocates it (JS publishes it by CAS 0 -> address).
export const H_RECORDS: usize = 2316;

export const BLOCK_HDR: usize = 16;
export const B_REFS: usize = 0;
// The core writes the payload length here at allocation; the JS side of a message block keeps
// in its top 3 bits the padding before the encoding (src/layers/shared/borrow.ts, PAD_SHIFT).
export const B_LEN: usize = 4;
export const B_TIME: usize = 8;

export const RECORD_SIZE: u32 = 512;
export const R_CTL: usize = 16;
export const R_KIND: usize = 24;
export const R_SLOT: usize = 28;
export const R_HASH: usize = 32;
export const R_NLEN: usize = 36;
export const R_NAME: usize = 40;
export const MAX_NAME: u32 = 100;
export const R_CAP: usize = 144;
export const R_RING: usize = 148;
export const R_RSIZE: usize = 152; // ring slots: max(capacity, 2) (Vyukov needs >= 2)
export const R_FULL: usize = 156;
export const R_MEMB: usize = 160;
export const R_ORDER: usize = 164;
export const R_RETIRED: usize = 168; // a reclaimed record: the reclamation epoch it was reclaimed in (epoch.ts)
export const R_TOP: usize = 176;
export const R_WAKE: usize = 192;
export const R_PARKED: usize = 196;
export const R_SPACE: usize = 200;
export const R_SPARKED: usize = 204;
export const R_ENQ: usize = 256;
export const R_DEQ: usize = 384;
/** Token words of the wake-ups (wake.ts), each ARM_DELTA bytes after its parked counter (wake line). */
export const ARM_DELTA: usize = 16;
export const R_ARMED: usize = R_PARKED + ARM_DELTA; // 212
export const R_SARMED: usize = R_SPARKED + ARM_DELTA; // 220
export const R_MEMBERS: usize = 144;

export const KIND_CHANNEL: u32 = 1;
export const KIND_GROUP: u32 = 2;

export const FULL_REJECT: u32 = 0;
export const FULL_DROP_OLDEST: u32 = 1;
export const FULL_WAIT: u32 = 2;

@inline export function hdr(field: usize): usize {
  return HEADER_BASE + field;
}
