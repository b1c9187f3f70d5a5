/**
 * The bus-wide options of a shared bus live in its shared memory (assembly/lifetime.ts), not
 * in the handle: the creator writes them there once, and every attach reads them back. An
 * attached instance therefore cannot disagree with the bus about what a channel is (its
 * capacity, full policy, order), about expiry, or about leases.
 *
 * Two options are legitimately per instance, because they only change how this instance's
 * own waiters wait: `wait` and `spinBudget`. They come from the handle.
 *
 * A handle whose bus-wide options were edited (they differ from the bus's) is refused with a
 * LayoutMismatch naming the option: silently using other values than the ones the caller
 * wrote would hide the mistake.
 *
 * The text is JSON: patterns (`channelCapacity`, `channelOrder`, `channelFull`) become
 * ordered lists of `[pattern, value]` (first match wins, as before), a RegExp pattern becomes
 * `{ re, flags }`; values are the resolved ones (defaults applied), so `{}` and
 * `{ capacity: 100 }` are the same options.
 *
 * @module
 */

import { LayoutMismatch } from '../../errors.js';
import { quote, type PatternMap } from '../../layer.js';
import { resolveSharedOptions, type SharedLayerOptions } from './options.js';

/** Options that may differ between the instances of one bus (how this instance waits). */
export const PER_INSTANCE_OPTIONS = ['wait', 'spinBudget', 'frozenMessages', 'records'] as const;

/** Options fixed when the bus is created, kept in its shared memory. */
export const BUS_OPTIONS = [
  'capacity', 'channelCapacity', 'expiry', 'groupExpiry', 'memory', 'maxMessageSize', 'maxNames',
  'delivery', 'order', 'channelOrder', 'full', 'channelFull', 'leaseTimeout', 'maxDeliveries',
  'deadLetterChannel', 'maxLeases', 'livenessTimeout',
] as const;

type BusOption = (typeof BUS_OPTIONS)[number];
type PatternJson = { re: string; flags: string } | string;
type Canonical = Record<BusOption, unknown>;

const PATTERN_OPTIONS: ReadonlySet<string> = new Set(['channelCapacity', 'channelOrder', 'channelFull']);

function patternList(patterns: PatternMap<unknown> | undefined): Array<[PatternJson, unknown]> {
  if (patterns === undefined || patterns === null) return [];
  const entries: Array<readonly [unknown, unknown]> =
    patterns instanceof Map
      ? [...patterns.entries()]
      : Array.isArray(patterns)
        ? [...(patterns as ReadonlyArray<readonly [unknown, unknown]>)]
        : Object.entries(patterns as Record<string, unknown>);
  return entries.map(([p, v]) => [p instanceof RegExp ? { re: p.source, flags: p.flags } : (p as string), v]);
}

function patternMap(list: unknown): PatternMap<never> | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined;
  return list.map(([p, v]: [PatternJson, unknown]) => [typeof p === 'string' ? p : new RegExp(p.re, p.flags), v]) as never;
}

/**
 * The canonical bus-wide options of `options` (checked first: a bad value throws the
 * TypeError `createLayer` would).
 */
function canonical(options: SharedLayerOptions): Canonical {
  const r = resolveSharedOptions(options);
  return {
    capacity: r.common.capacity,
    channelCapacity: patternList(options.channelCapacity),
    expiry: options.expiry ?? r.common.expiryMs / 1000,
    groupExpiry: options.groupExpiry ?? r.common.groupExpiryMs / 1000,
    memory: r.memoryBytes,
    maxMessageSize: r.maxMessageSize,
    maxNames: r.maxNames,
    delivery: r.tradeoffs.delivery,
    order: options.order ?? 'fifo',
    channelOrder: patternList(options.channelOrder),
    full: options.full ?? 'reject',
    channelFull: patternList(options.channelFull),
    leaseTimeout: r.tradeoffs.leaseTimeoutMs,
    maxDeliveries: Number.isFinite(r.tradeoffs.maxDeliveries) ? r.tradeoffs.maxDeliveries : null,
    deadLetterChannel: r.tradeoffs.deadLetterChannel,
    maxLeases: r.maxLeases,
    livenessTimeout: r.livenessTimeoutMs,
  };
}

/** The text the creator stores in the bus (UTF-8 JSON of the canonical bus-wide options). */
export function encodeBusOptions(options: SharedLayerOptions): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(canonical(options)));
}

/**
 * The options of an instance attaching with `handleOptions` to a bus whose stored text is
 * `stored`: the bus's bus-wide options and the handle's per-instance ones. Throws
 * LayoutMismatch when the handle carries a bus-wide option that differs from the bus's.
 */
export function attachOptions(stored: Uint8Array, handleOptions: SharedLayerOptions | undefined): SharedLayerOptions {
  let bus: Canonical;
  try {
    bus = JSON.parse(new TextDecoder().decode(stored)) as Canonical;
  } catch (err) {
    throw new LayoutMismatch(`the bus options in the shared memory are unreadable (${(err as Error).message})`);
  }
  const options: Record<string, unknown> = {};
  for (const key of BUS_OPTIONS) {
    const value = bus[key];
    if (value === null || value === undefined) continue;
    options[key] = PATTERN_OPTIONS.has(key) ? patternMap(value) : value;
  }
  if (handleOptions !== undefined && handleOptions !== null) {
    if (typeof handleOptions !== 'object') {
      throw new TypeError(`invalid handle options ${quote(handleOptions)}: expected the options object of layer.handle`);
    }
    const given = canonical(handleOptions);
    for (const key of BUS_OPTIONS) {
      const mine = JSON.stringify(given[key] ?? null);
      const theirs = JSON.stringify(bus[key] ?? null);
      if (mine !== theirs) {
        throw new LayoutMismatch(
          `the handle says ${key}: ${mine} but the bus was created with ${key}: ${theirs}; bus-wide options are ` +
            `fixed when the bus is created and read from its shared memory (pass layer.handle unchanged; only ` +
            `${PER_INSTANCE_OPTIONS.join(', ')} may differ per instance)`,
        );
      }
    }
    for (const key of PER_INSTANCE_OPTIONS) if (handleOptions[key] !== undefined) options[key] = handleOptions[key];
  }
  // The unit check of expiry / groupExpiry judged the creator's options when the bus was
  // created; the stored values (defaults written out) are not judged again on attach.
  options.allowLongExpiry = true;
  return options as SharedLayerOptions;
}
