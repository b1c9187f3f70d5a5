/**
 * The records codec of the shared layer: msgpack in which a plain object whose key list (in
 * order) has been seen before is written as a record, `ext(0x52)` holding a u16 structure id
 * and the values only; the key lists ("structures") live in one table in the bus's shared
 * memory, so every thread of the bus decodes every record. Records never leave the machine:
 * the Redis and Python wire always gets plain msgpack (`encode` in src/codec.ts never writes
 * an ext, and the hybrid layer re-encodes from JS objects), and the shared layer's decoder
 * reads plain msgpack and records alike (hybrid deliveries store plain Redis bodies).
 *
 * Why JS and not AssemblyScript: the table is touched only on a structure's first sight in a
 * thread (each thread caches shape -> id and id -> reader), the encoder that needs it is JS,
 * and keys must be UTF-8 checked and turned into JS strings anyway; a wasm call per append
 * would buy nothing. The core only reserves the header word that holds the table's address
 * (assembly/layout.ts H_RECORDS); the table itself is a block of the arena, allocated by the
 * first instance with `records: true` and published there by CAS 0 -> address (a loser frees
 * its block). It is never freed: it lives as long as the bus.
 *
 * Table layout (u32 words, from its base): [0] magic, [4] entries N, [8] key bytes M,
 * [12] RESERVE = count << 17 | bytes used, [16] PUBLISHED; from 64: N entries of 16 bytes
 * ([0] state, [4] key offset, [8] key bytes, [12] key count); then M bytes of keys, each a
 * u16 byte length and its UTF-8.
 *
 * Algorithm: append-only log with CAS reservation and CAS publication.
 * - Append: one CAS on RESERVE takes entry `count` and `bytes` key bytes together (refused
 *   when either is exhausted: the table is full and stays full, new shapes are then written
 *   as plain maps). The writer fills its bytes and entry words, then publishes by CAS on the
 *   entry's state, PENDING (0) -> PUBLISHED (1), and moves PUBLISHED forward.
 * - PUBLISHED advances by CAS over entries that are complete (published or dead), by any
 *   thread; every thread learns of other threads' structures by reading entries below it.
 * - An entry PENDING at the PUBLISHED frontier for at least {@link STUCK_MS} (its writer was
 *   killed, or is very late) is marked DEAD (2) by CAS by whichever thread sees it; a late
 *   writer's publish CAS then fails and it does not use that id (that message's object goes
 *   as a plain map). So a kill never wedges the table; ids are never reused (append-only), and
 *   a dead entry's bytes are never read. The timing is a thread's own: it notes the time and
 *   the reserved count when it first finds the frontier pending, and any entry below that count
 *   still pending STUCK_MS later has been pending that long. A clock jump can only mark a live
 *   writer dead early, which the publish CAS makes harmless.
 * - The table's block: a thread killed between allocating it and the CAS that publishes its
 *   address leaks that block (once per bus at most per such kill); nothing else refers to it.
 * Invariants: an id is used in a message only after its entry's PUBLISHED CAS succeeded (the
 * seq-cst CAS orders the key bytes before it, and the message's enqueue after it), so a
 * reader of the message finds the entry published and its bytes complete; a published entry
 * never changes; every entry below PUBLISHED is PUBLISHED or DEAD. Two threads may append the
 * same shape at once: both ids are valid (a duplicate costs one entry, nothing else).
 * A kill mid-append leaves: before the reserve CAS, nothing; after it, a PENDING entry and its
 * reserved key bytes (marked DEAD after STUCK_MS, their room lost); after the publish CAS, a
 * published entry that the next thread to sync moves PUBLISHED over.
 *
 * @module
 */

import { RECORD_MAX_KEYS, type ShapeSource } from './encode.js';
import { DecodeError, type StructureSource } from './decode.js';

/** Entries of the structure table: the most distinct shapes a bus ever gets ids for. */
export const TABLE_ENTRIES = 1024;
/** Bytes of key names in the table (each key costs its UTF-8 plus 2). */
export const TABLE_KEY_BYTES = 65536;
const MAGIC = 0x52535452; // 'RSTR'
/** Byte offsets of the table's parts (exported for the tests that play a killed writer). */
export const TABLE_HEAD = 64;
export const TABLE_ENTRY = 16;
const HEAD = TABLE_HEAD;
const ENTRY = TABLE_ENTRY;
/** Key bytes of one structure at most: a shape with longer keys is always a plain map. */
const MAX_STRUCTURE_BYTES = 4096;
export const TABLE_BYTES = HEAD + TABLE_ENTRIES * ENTRY + TABLE_KEY_BYTES;
const COUNT_SHIFT = 17;
const BYTES_MASK = (1 << COUNT_SHIFT) - 1;
const PENDING = 0;
const PUBLISHED = 1;
const DEAD = 2;
/** How long an entry may stay pending at the frontier before it counts as its writer's death. */
export const STUCK_MS = 1000;

/** What the table needs of the bus: its memory views, the header word, arena blocks. */
export interface TableHost {
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  /** Address of the header word holding the table's address. */
  readonly word: number;
  /** A fresh block of `bytes` payload bytes (its payload address), or 0. */
  alloc(bytes: number): number;
  /** Free a block whose payload address `alloc` returned. */
  free(payload: number): void;
}

interface Node {
  /** The first child's key and node, compared before the map (most shapes never branch). */
  key: string | undefined;
  child: Node | undefined;
  next: Map<string, Node> | null;
  /** Structure id of the key list ending here, -1: none. */
  id: number;
  /** The key list ending here holds the routing field (never a message's own shape). */
  reserved: boolean;
}

type Reader = (value: () => unknown) => Record<string, unknown>;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ROUTING = '__asgi_channel__';

/**
 * One thread's view of one bus's structure table: the shapes it knows (a tree of key lists),
 * the readers it built, and the appends of the message being encoded.
 */
export class Structures implements ShapeSource, StructureSource {
  private base = 0;
  private readonly root: Node = { key: undefined, child: undefined, next: null, id: -1, reserved: false };
  private readonly readers: Array<Reader | undefined> = [];
  /** Entries below this index were read into the tree. */
  private synced = 0;
  /** Entries reserved when this thread last found the frontier pending, and when (the kill check). */
  private stuckReserved = 0;
  private stuckSince = 0;
  private full = false;
  private pending: string[][] = [];
  /** Appends made, and shapes that found the table full (for tests and stats). */
  appended = 0;
  fellBack = 0;

  constructor(private readonly host: TableHost) {}

  /** The table's base, allocating and publishing it when `create` and there is none yet; 0: none. */
  private table(create: boolean): number {
    if (this.base !== 0) return this.base;
    const { i32, word } = this.host;
    let at = Atomics.load(i32, word >> 2);
    if (at === 0 && create) {
      const mine = this.host.alloc(TABLE_BYTES);
      if (mine === 0) return 0; // no room: this instance writes plain maps
      this.host.u8.fill(0, mine, mine + TABLE_BYTES);
      const w = mine >> 2;
      i32[w] = MAGIC;
      i32[w + 1] = TABLE_ENTRIES;
      i32[w + 2] = TABLE_KEY_BYTES;
      at = Atomics.compareExchange(i32, word >> 2, 0, mine);
      if (at !== 0) this.host.free(mine);
      else at = mine;
    }
    if (at !== 0 && i32[at >> 2] !== MAGIC) throw new Error('ringbus: the records structure table has no magic word (corrupt header)');
    this.base = at;
    return at;
  }

  // ---- encoding (ShapeSource) ------------------------------------------------------------

  idOf(keys: string[], top: boolean): number {
    let id = this.find(keys, top);
    if (id === -2) {
      if (this.sync()) id = this.find(keys, top);
    }
    return id < 0 ? -1 : id;
  }

  /** -1: known, but not usable here (routing field at the top); -2: unknown. */
  private find(keys: string[], top: boolean): number {
    let node = this.root;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      if (node.key === key) node = node.child as Node;
      else {
        const next = node.next?.get(key);
        if (next === undefined) return -2;
        node = next;
      }
    }
    if (node.id < 0) return -2;
    return top && node.reserved ? -1 : node.id;
  }

  missed(keys: string[]): void {
    if (!this.full) this.pending.push(keys);
  }

  commit(): void {
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    for (const keys of pending) {
      if (this.full) break;
      if (this.find(keys, false) === -2) this.append(keys);
    }
  }

  abandon(): void {
    this.pending.length = 0;
  }

  /** Append `keys` as a new structure (its id) or -1: no table, full, or a late publish. */
  private append(keys: string[]): number {
    const base = this.table(true);
    if (base === 0) {
      this.full = true;
      return -1;
    }
    const encoded = keys.map((k) => Buffer.from(k, 'utf8'));
    let bytes = 0;
    for (const e of encoded) bytes += 2 + e.length;
    if (bytes > MAX_STRUCTURE_BYTES) {
      this.fellBack++;
      return -1;
    }
    const { i32, u8 } = this.host;
    const w = base >> 2;
    let id: number;
    let offset: number;
    for (;;) {
      const r = Atomics.load(i32, w + 3);
      id = r >>> COUNT_SHIFT;
      offset = r & BYTES_MASK;
      if (id >= TABLE_ENTRIES || offset + bytes > TABLE_KEY_BYTES) {
        this.full = true;
        this.fellBack++;
        return -1;
      }
      if (Atomics.compareExchange(i32, w + 3, r, ((id + 1) << COUNT_SHIFT) | (offset + bytes)) === r) break;
    }
    // Reserved: entry `id` and key bytes [offset, offset + bytes) are ours alone.
    let at = base + HEAD + TABLE_ENTRIES * ENTRY + offset;
    for (const e of encoded) {
      u8[at] = e.length >>> 8;
      u8[at + 1] = e.length & 0xff;
      u8.set(e, at + 2);
      at += 2 + e.length;
    }
    const entry = (base + HEAD + id * ENTRY) >> 2;
    i32[entry + 1] = offset;
    i32[entry + 2] = bytes;
    i32[entry + 3] = keys.length;
    if (Atomics.compareExchange(i32, entry, PENDING, PUBLISHED) !== PENDING) return -1; // marked dead: too late
    this.appended++;
    this.insert(keys, id);
    this.advance(base);
    return id;
  }

  private insert(keys: readonly string[], id: number): void {
    let node = this.root;
    let reserved = false;
    for (const key of keys) {
      if (key === ROUTING) reserved = true;
      if (node.key === key) {
        node = node.child as Node;
        continue;
      }
      let next = node.next?.get(key);
      if (next === undefined) {
        next = { key: undefined, child: undefined, next: null, id: -1, reserved: false };
        if (node.key === undefined) {
          node.key = key;
          node.child = next;
        } else {
          if (node.next === null) node.next = new Map();
          node.next.set(key, next);
        }
      }
      node = next;
    }
    if (node.id < 0) {
      node.id = id;
      node.reserved = reserved;
    }
  }

  /** Move PUBLISHED over complete entries; returns it. */
  private advance(base: number): number {
    const { i32 } = this.host;
    const w = base >> 2;
    for (;;) {
      const p = Atomics.load(i32, w + 4);
      const reserved = Atomics.load(i32, w + 3) >>> COUNT_SHIFT;
      if (p >= reserved) return p;
      const state = Atomics.load(i32, (base + HEAD + p * ENTRY) >> 2);
      if (state === PENDING) {
        // A writer in flight, or killed: once pending for STUCK_MS, mark it dead. Every entry
        // below `stuckReserved` was reserved before `stuckSince`, so one observation times a
        // whole run of dead entries (they are passed together, not one STUCK_MS each).
        const now = Date.now();
        if (p >= this.stuckReserved) {
          this.stuckReserved = reserved;
          this.stuckSince = now;
          return p;
        }
        if (now - this.stuckSince < STUCK_MS) return p;
        Atomics.compareExchange(i32, (base + HEAD + p * ENTRY) >> 2, PENDING, DEAD);
        continue;
      }
      Atomics.compareExchange(i32, w + 4, p, p + 1);
    }
  }

  /** Read the structures other threads published since the last sync; true when any were new. */
  private sync(): boolean {
    const base = this.table(false);
    if (base === 0) return false;
    const w = base >> 2;
    if (this.synced >= (Atomics.load(this.host.i32, w + 3) >>> COUNT_SHIFT)) return false;
    const published = this.advance(base);
    const before = this.synced;
    for (let id = this.synced; id < published; id++) {
      const keys = this.keysOf(base, id);
      if (keys !== undefined) this.insert(keys, id);
    }
    this.synced = Math.max(this.synced, published);
    return this.synced > before;
  }

  /** Entries reserved and published (PUBLISHED word) in the table, and its capacity; zeros without a table. */
  stats(): { reserved: number; published: number; capacity: number } {
    const base = this.table(false);
    if (base === 0) return { reserved: 0, published: 0, capacity: 0 };
    const w = base >> 2;
    return {
      reserved: Atomics.load(this.host.i32, w + 3) >>> COUNT_SHIFT,
      published: this.advance(base),
      capacity: TABLE_ENTRIES,
    };
  }

  // ---- decoding (StructureSource) --------------------------------------------------------

  reader(id: number): Reader | undefined {
    const known = this.readers[id];
    if (known !== undefined) return known;
    const base = this.table(false);
    if (base === 0 || id >= TABLE_ENTRIES) return undefined;
    const keys = this.keysOf(base, id);
    if (keys === undefined) return undefined;
    const reader = buildReader(keys);
    this.readers[id] = reader;
    return reader;
  }

  /** The keys of published entry `id` (undefined when it is not published), checked. */
  private keysOf(base: number, id: number): string[] | undefined {
    const { i32, u8 } = this.host;
    const entry = (base + HEAD + id * ENTRY) >> 2;
    if (Atomics.load(i32, entry) !== PUBLISHED) return undefined;
    const offset = i32[entry + 1] as number;
    const bytes = i32[entry + 2] as number;
    const count = i32[entry + 3] as number;
    const keys: string[] = [];
    const seen = new Set<string>();
    let at = base + HEAD + TABLE_ENTRIES * ENTRY + offset;
    const stop = at + bytes;
    if (offset < 0 || offset + bytes > TABLE_KEY_BYTES || count < 1 || count > RECORD_MAX_KEYS) return corrupt(id);
    for (let i = 0; i < count; i++) {
      if (at + 2 > stop) return corrupt(id);
      const n = ((u8[at] as number) << 8) | (u8[at + 1] as number);
      if (at + 2 + n > stop) return corrupt(id);
      let key: string;
      try {
        key = utf8.decode(u8.slice(at + 2, at + 2 + n)); // a copy: TextDecoder refuses views of shared memory
      } catch {
        return corrupt(id);
      }
      if (seen.has(key)) return corrupt(id);
      seen.add(key);
      keys.push(key);
      at += 2 + n;
    }
    if (at !== stop) return corrupt(id);
    return keys;
  }
}

function corrupt(id: number): never {
  throw new DecodeError(`undecodable record: structure ${id} of the records table is corrupt (its entry does not describe distinct UTF-8 keys)`);
}

/**
 * A reader of one structure: an object literal with its keys in order, so every object of a
 * structure gets one hidden class (faster to build and to use than keys added one by one).
 * `__proto__` is written as a computed key, which makes an own property (a plain
 * `"__proto__": v` would set the prototype). Without code generation (a runtime that forbids
 * `new Function`), a loop that defines the properties one by one.
 */
function buildReader(keys: readonly string[]): Reader {
  const fields = keys.map((k) => (k === '__proto__' ? `[${JSON.stringify(k)}]: v()` : `${JSON.stringify(k)}: v()`));
  try {
    return new Function('v', `return { ${fields.join(', ')} };`) as Reader;
  } catch {
    return (v) => {
      const object: Record<string, unknown> = {};
      for (const key of keys) Object.defineProperty(object, key, { value: v(), writable: true, enumerable: true, configurable: true });
      return object;
    };
  }
}

/** The structures of each bus this thread uses, by the bus's memory (shared by its instances). */
const byMemory = new WeakMap<SharedArrayBuffer, Structures>();

/** This thread's view of the structure table of the bus whose memory is `host.u8.buffer`. */
export function structuresOf(host: TableHost): Structures {
  const key = host.u8.buffer as SharedArrayBuffer;
  let s = byMemory.get(key);
  if (s === undefined) {
    s = new Structures(host);
    byMemory.set(key, s);
  }
  return s;
}

/**
 * A structure table of its own, in a private SharedArrayBuffer (its header word at 0, the
 * table at 64), for using the records codec without a bus: the codec bench and the unit tests.
 */
export function privateStructures(): Structures {
  const sab = new SharedArrayBuffer(64 + TABLE_BYTES);
  let given = false;
  return new Structures({
    u8: new Uint8Array(sab),
    i32: new Int32Array(sab),
    word: 0,
    alloc: () => (given ? 0 : ((given = true), 64)),
    free: () => {
      throw new Error('a private structure table is never freed');
    },
  });
}
