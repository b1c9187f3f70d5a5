import { describe, expect, it } from 'vitest';
import {
  assertChannelName,
  assertGroupName,
  assertMessage,
  compileCapacity,
  globToRegExp,
  isProcessSpecific,
  ownerPart,
  resolveCommonOptions,
  resolveTradeoffs,
} from '../../dist/layer.js';

describe('channel and group names', () => {
  it('accepts the ASGI alphabet and at most one !', () => {
    for (const ok of ['a', 'chat.lobby', 'A-Z_0.9', 'x!', 'owner!part', 'a'.repeat(99)]) {
      expect(() => assertChannelName(ok)).not.toThrow();
    }
    for (const bad of ['', 'a'.repeat(100), 'a!b!c', '!x', 'a b', 'é', 'a/b']) {
      expect(() => assertChannelName(bad)).toThrow(TypeError);
    }
  });

  it('refuses ! in group names', () => {
    expect(() => assertGroupName('room.1')).not.toThrow();
    expect(() => assertGroupName('room!1')).toThrow(/group name/);
  });

  it('splits process-specific names at the !', () => {
    expect(isProcessSpecific('a.b!c')).toBe(true);
    expect(isProcessSpecific('a.b')).toBe(false);
    expect(ownerPart('specific.abc!123')).toBe('specific.abc!');
    expect(ownerPart('plain')).toBe('plain');
  });
});

describe('message validation', () => {
  it('accepts null-prototype objects and Buffers', () => {
    const m = Object.create(null) as Record<string, unknown>;
    m.b = Buffer.from('x');
    expect(() => assertMessage(m)).not.toThrow();
  });

  it('names the path of a bad value with odd keys', () => {
    expect(() => assertMessage({ 'odd key': [0, { fn: () => 0 }] })).toThrow('message["odd key"][1].fn');
  });

  it('accepts the same object twice when it is not circular', () => {
    const shared = { x: 1 };
    expect(() => assertMessage({ a: shared, b: shared, c: [shared, shared] })).not.toThrow();
  });

  it('ignores symbol-keyed properties, as structuredClone does', () => {
    expect(() => assertMessage({ a: 1, [Symbol('k')]: () => 1 })).not.toThrow();
  });

  it('accepts deep acyclic nesting and refuses cycles found deep down', () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 90; i++) deep = { d: deep };
    expect(() => assertMessage(deep)).not.toThrow();
    const cycle: Record<string, unknown> = {};
    let at = cycle;
    for (let i = 0; i < 60; i++) at = (at.d = {}) as Record<string, unknown>;
    at.back = cycle;
    expect(() => assertMessage(cycle)).toThrow(/circular reference/);
  });

  it('bounds bigints to 64 bits', () => {
    expect(() => assertMessage({ a: 2n ** 64n - 1n, b: -(2n ** 63n) })).not.toThrow();
    expect(() => assertMessage({ a: -(2n ** 63n) - 1n })).toThrow(/64 bits/);
  });
});

describe('capacity patterns', () => {
  it('translates fnmatch globs to anchored expressions', () => {
    expect(globToRegExp('http.*').test('http.request')).toBe(true);
    expect(globToRegExp('http.*').test('xhttp.request')).toBe(false);
    expect(globToRegExp('a?c').test('abc')).toBe(true);
    expect(globToRegExp('a[bc]d').test('acd')).toBe(true);
    expect(globToRegExp('a[!bc]d').test('acd')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });

  it('uses the first match, and RegExps match from the start only', () => {
    const cap = compileCapacity(10, [
      [/re/, 1],
      ['x*', 2],
      ['xy*', 3],
    ]);
    expect(cap('re.1')).toBe(1);
    expect(cap('are')).toBe(10);
    expect(cap('xyz')).toBe(2);
    expect(cap('other')).toBe(10);
  });

  it('takes Maps and plain objects', () => {
    expect(compileCapacity(5, new Map([['a*', 7]]))('abc')).toBe(7);
    expect(compileCapacity(5, { 'a*': 8 })('abc')).toBe(8);
  });
});

describe('options', () => {
  it('applies the Django Channels defaults', () => {
    const o = resolveCommonOptions({});
    expect(o.capacity).toBe(100);
    expect(o.expiryMs).toBe(60_000);
    expect(o.groupExpiryMs).toBe(86_400_000);
  });

  it('checks the trade-off knobs and names the bad value', () => {
    expect(resolveTradeoffs({}).delivery).toBe('at-most-once');
    expect(resolveTradeoffs({}).wait).toBe('adaptive');
    expect(() => resolveTradeoffs({ order: 'random' as never })).toThrow(/order: "random"; expected one of 'fifo', 'lifo'/);
    expect(() => resolveTradeoffs({ channelFull: { 'a*': 'explode' as never } })).toThrow(/channelFull\[a\*\]/);
    expect(() => resolveTradeoffs({ spinBudget: -1 })).toThrow(/spinBudget/);
    expect(() => resolveTradeoffs({ deadLetterChannel: 'no spaces' })).toThrow(/no spaces/);
  });
});
