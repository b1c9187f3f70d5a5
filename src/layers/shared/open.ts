/**
 * Opening a bus region for the shared layer: create a fresh one (memory, layout, tables,
 * bus-wide options), or check a handed-over one before attaching (a compiled ringbus core,
 * a shared memory of a compatible layout, bus-wide options as the region stores them).
 * Separate from shared.ts because it runs once per instance, before the layer exists, and
 * is all validation and set-up; the layer's constructor takes what it returns.
 *
 * No concurrency to speak of: `createRegion` writes a memory no other thread has seen yet,
 * and `attachRegion` only reads the header and the stored options.
 *
 * @module
 */

import { quote } from '../../quote.js';
import { LayerClosed, LayoutMismatch } from '../../errors.js';
import { BLOCK_HEADER, Core, INSTANCE_SLOTS, coreModule } from '../../wasm/core.js';
import { isWasmMemory, isWasmModule, wasm } from '../../wasm/api.js';
import { attachOptions, encodeBusOptions } from './bus-options.js';
import {
  SHARED_OPTION_KEYS, resolveSharedOptions, type ResolvedSharedOptions, type SharedLayerHandle, type SharedLayerOptions,
} from './options.js';
import { SHUT_DOWN } from './slots.js';

/** A region opened for a new layer instance. */
export interface OpenedRegion {
  readonly handle: SharedLayerHandle;
  readonly opts: ResolvedSharedOptions;
  readonly core: Core;
}

/** Lay out a new bus in a fresh shared memory. */
export function createRegion(options: SharedLayerOptions): OpenedRegion {
  const opts = resolveSharedOptions(options);
  const module = coreModule();
  const pages = opts.memoryBytes / 65536;
  const memory = new wasm.Memory({ initial: pages, maximum: pages, shared: true });
  const core = new Core(module, memory);
  const rc = core.x.init(opts.memoryBytes >>> 0, opts.buckets, opts.maxMessageSize);
  if (rc === 1) throw new LayoutMismatch('the core\'s static data overlaps the layout header (a broken build)');
  if (rc === 2) throw new TypeError(`invalid option memory: ${opts.memoryBytes} bytes cannot hold the registry and an arena`);
  if (core.x.setupTables(opts.maxLeases, INSTANCE_SLOTS) === 0) {
    throw new TypeError(`invalid option maxLeases: ${opts.maxLeases} lease slots do not fit in memory (${opts.memoryBytes} bytes)`);
  }
  // The bus-wide options go into the shared memory: attaches read them from there.
  const text = encodeBusOptions(options);
  const block = core.x.allocScratch(text.length);
  if (block === 0) throw new TypeError(`invalid option memory: ${opts.memoryBytes} bytes leave no room for the bus options`);
  core.u8.set(text, block + BLOCK_HEADER);
  core.x.setBusOptions(block + BLOCK_HEADER, text.length);
  return { handle: { module, memory, options: handleOptions(options) }, opts, core };
}

/** Check the region of `handle` and read its bus-wide options (see SharedLayer.attach for the errors). */
export function attachRegion(handle: SharedLayerHandle): OpenedRegion {
  if (handle === null || typeof handle !== 'object') {
    throw new TypeError(`invalid handle ${quote(handle)}: expected the object of a shared layer's \`handle\``);
  }
  const { module, memory, options } = handle;
  if (!isWasmModule(module) || !isWasmMemory(memory)) {
    throw new LayoutMismatch('the handle has no compiled core (module) or no WebAssembly.Memory (memory)');
  }
  if (!(memory.buffer instanceof SharedArrayBuffer)) {
    throw new LayoutMismatch('the handle\'s memory is not shared');
  }
  if (memory.buffer.byteLength < 2 * 65536) {
    throw new LayoutMismatch(`the handle's memory (${memory.buffer.byteLength} bytes) is too small to hold a ringbus region`);
  }
  const exports = wasm.Module.exports(module).map((e) => e.name);
  if (!exports.includes('check') || !exports.includes('layoutVersion')) {
    throw new LayoutMismatch('the handle\'s module is not a ringbus core');
  }
  const core = new Core(module, memory);
  const rc = core.x.check();
  if (rc === 1) throw new LayoutMismatch('the core\'s static data overlaps the layout header (a broken build)');
  if (rc === 2) throw new LayoutMismatch('no ringbus layout header in this memory (wrong magic)');
  if (rc === 3) {
    throw new LayoutMismatch(
      `the region has layout version ${core.x.headerVersion()}, this core reads version ${core.x.layoutVersion()}`,
    );
  }
  if (core.x.busClosed() !== 0) throw new LayerClosed('attachLayer', SHUT_DOWN);
  // Bus-wide options come from the shared memory; the handle may only choose how this
  // instance waits (shared/bus-options.ts).
  const at = core.x.busOptionsAddr();
  if (at === 0) throw new LayoutMismatch('the region holds no bus options (a broken build)');
  const stored = core.u8.slice(at, at + core.x.busOptionsLen());
  const opts = resolveSharedOptions(attachOptions(stored, options));
  if (core.x.regionSize() !== opts.memoryBytes >>> 0 || core.x.maxMessageSize() !== opts.maxMessageSize) {
    throw new LayoutMismatch('the bus options in the region do not match its header (memory, maxMessageSize)');
  }
  return { handle, opts, core };
}

/** The options every attached instance needs, and nothing else (the handle must stay cloneable). */
function handleOptions(options: SharedLayerOptions): SharedLayerOptions {
  const out: Record<string, unknown> = {};
  for (const key of SHARED_OPTION_KEYS) if (options[key] !== undefined) out[key] = options[key];
  return out as SharedLayerOptions;
}
