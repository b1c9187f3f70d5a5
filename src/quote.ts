/**
 * How values are shown in error messages, shared by option checks and the message codec.
 *
 * @module
 */

/** A bad value as error messages show it: strings quoted and cut, other values by type. */
export function quote(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 120 ? value.slice(0, 120) + '…' : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  const proto = Object.getPrototypeOf(value) as { constructor?: unknown } | null;
  if (proto === null || proto === Object.prototype) return 'a plain object';
  // A class instance by its class (`a Date instance`), not `[object Object]`.
  const ctor = proto.constructor;
  const name = typeof ctor === 'function' && ctor.name !== '' ? ctor.name : Object.prototype.toString.call(value).slice(8, -1);
  return `${/^[AEIOU]/i.test(name) ? 'an' : 'a'} ${name} instance`;
}
