/**
 * The codec alone, fuzzed (fast-check): every generated message is encoded exactly when the
 * contract allows it (./model.ts is the oracle), decodes back exactly, and its bytes are
 * plain msgpack that an independent reader (msgpackr, a dev dependency used only here)
 * reads as the same value.
 */
import fc from 'fast-check';
import { Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../dist/index.js';
import { difference, expected, message, prototypeSnapshot } from './model.js';

const independent = new Unpackr({ mapsAsObjects: true, int64AsType: 'auto' as 'bigint', useRecords: false });

/** msgpackr renames a `__proto__` key (its guard): leave such values out of the cross-check. */
function hasProtoKey(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return false;
  if (Array.isArray(v)) return v.some(hasProtoKey);
  return Object.keys(v).some((k) => k === '__proto__' || hasProtoKey((v as Record<string, unknown>)[k]));
}

describe('fuzz: codec', () => {
  it('encodes exactly what the contract allows, decodes it back exactly, and writes plain msgpack', () => {
    const before = prototypeSnapshot();
    fc.assert(
      fc.property(message, (m) => {
        const want = expected(m);
        let bytes: Uint8Array;
        try {
          bytes = encode(m as never).slice();
        } catch (err) {
          if (want.ok) throw new Error(`refused a valid message: ${String(err)}`);
          expect(err).toBeInstanceOf(TypeError);
          return;
        }
        if (!want.ok) throw new Error(`encoded a message the contract refuses (${want.reason})`);
        const d = difference(decode(bytes), want.value);
        if (d !== null) throw new Error(`decode(encode(m)) differs: ${d}`);
        if (!hasProtoKey(want.value)) {
          const other = difference(independent.unpack(bytes), want.value);
          if (other !== null) throw new Error(`msgpackr reads the bytes differently: ${other}`);
        }
        expect(prototypeSnapshot()).toBe(before);
      }),
      { numRuns: 1000 },
    );
  });
});
