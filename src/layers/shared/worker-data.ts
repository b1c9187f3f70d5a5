/**
 * Handing the bus to another thread: the one `workerData` shape every entry point uses
 * (`{ ringbus: layer.handle, ...yourFields }`), the helper that builds it, and the reading
 * of whatever `attachLayer` was given. Kept apart from shared.ts so that importing
 * `ringbus/pool` never attaches.
 *
 * @module
 */

import { quote } from '../../layer.js';
import type { SharedLayerHandle } from './options.js';

/** The key of the bus handle in a worker's `workerData` (`{ ringbus: layer.handle, ...}`). */
export const HANDLE_KEY = 'ringbus';

/**
 * The `workerData` of a worker on the bus: the handle under `ringbus`, next to the
 * caller's own fields.
 */
export type BusWorkerData<F extends object = Record<string, unknown>> = F & {
  /** The bus to attach to (`layer.handle`). */
  readonly [HANDLE_KEY]: SharedLayerHandle;
};

/** @deprecated the name of {@link BusWorkerData} before 0.2; same shape. */
export type PoolWorkerData = BusWorkerData;

/** What the hint of every hand-off error says. */
export const HANDOFF_HINT =
  "pass layer.handle (or give the worker workerData: workerData(layer, { ...yourFields }) and call attachLayer() " +
  "with no argument there)";

/** A value as a hand-off error shows it: class instances by their class. */
export function describeValue(value: unknown): string {
  if (value !== null && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null;
    const name = proto?.constructor?.name;
    if (proto !== null && proto !== Object.prototype && typeof name === 'string' && name !== '') {
      return `${/^[AEIOU]/i.test(name) ? 'an' : 'a'} ${name} instance`;
    }
    const keys = Object.keys(value);
    return keys.length === 0 ? 'an empty object' : `an object with keys ${keys.slice(0, 6).map((k) => JSON.stringify(k)).join(', ')}`;
  }
  return quote(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** True for an object that has the fields of a {@link SharedLayerHandle} (its contents are checked on attach). */
function hasHandleShape(value: unknown): value is SharedLayerHandle {
  return value !== null && typeof value === 'object' && 'module' in value && 'memory' in value;
}

/**
 * The handle inside `value`: a handle itself, `{ ringbus: handle, ... }` (what
 * {@link workerData} builds), or a shared layer (its `handle`). Anything else is a
 * `TypeError` that says what to pass; `what` names the caller in it.
 */
export function handleFrom(value: unknown, what: string): SharedLayerHandle {
  if (hasHandleShape(value)) return value;
  if (value !== null && typeof value === 'object') {
    const inner = (value as Record<string, unknown>)[HANDLE_KEY];
    if (hasHandleShape(inner)) return inner;
    const own = (value as { handle?: unknown }).handle;
    if (hasHandleShape(own)) {
      if (!isPlainObject(value)) return own; // a SharedLayer instance
      throw new TypeError(
        `invalid argument for ${what}: ${describeValue(value)}: the bus is under 'handle' there, and ringbus reads ` +
          `it under '${HANDLE_KEY}'; ${HANDOFF_HINT}`,
      );
    }
    if (typeof (value as { send?: unknown }).send === 'function' && own === undefined) {
      throw new TypeError(
        `invalid argument for ${what}: ${describeValue(value)} has no handle; only a layer of the shared backend ` +
          "(createLayer() or createLayer({ backend: 'shared' })) can be used from other threads",
      );
    }
  }
  throw new TypeError(`invalid argument for ${what}: ${describeValue(value)} holds no ringbus handle; ${HANDOFF_HINT}`);
}

/**
 * The `workerData` for a worker on the bus of `layer`: `{ ringbus: layer.handle, ...fields }`.
 * In the worker, `attachLayer()` (no argument) attaches to it, and the fields are plain
 * `workerData` fields (`workerData.id`, ...), also exported as `workerData` by `ringbus/worker`
 * without the handle.
 *
 * ```js
 * new Worker('./worker.js', { workerData: workerData(layer, { id: 1 }) });
 * ```
 *
 * Throws `TypeError` when `layer` is not a shared layer (or a handle), or `fields` is not a
 * plain object or has a field `ringbus`.
 */
export function workerData<F extends object = Record<string, never>>(
  layer: { readonly handle: SharedLayerHandle } | SharedLayerHandle,
  fields?: F,
): BusWorkerData<F> {
  const handle = handleFrom(layer, 'workerData');
  if (fields !== undefined && !isPlainObject(fields)) {
    throw new TypeError(
      `invalid fields for workerData: ${describeValue(fields)}; expected a plain object (its fields sit next to '${HANDLE_KEY}')`,
    );
  }
  if (fields !== undefined && Object.prototype.hasOwnProperty.call(fields, HANDLE_KEY)) {
    throw new TypeError(`invalid fields for workerData: the field '${HANDLE_KEY}' is where the bus handle goes`);
  }
  return { ...(fields ?? ({} as F)), [HANDLE_KEY]: handle } as BusWorkerData<F>;
}

/** The caller's fields of a {@link BusWorkerData} (everything but the handle); undefined when `data` is not an object. */
export function userFields(data: unknown): Record<string, unknown> | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const { [HANDLE_KEY]: _handle, ...rest } = data as Record<string, unknown>;
  return rest;
}

/**
 * The source text of this function is what V8 prints when a layer is structured-cloned
 * (`DataCloneError: <source> could not be cloned`): it is the first non-cloneable property of
 * every layer, so the error says what to do instead. Do not reformat its body.
 */
export const CLONE_GUARD = (): string =>
  "a ringbus layer cannot be cloned into another thread: pass layer.handle, or workerData(layer, fields) from 'ringbus'";
