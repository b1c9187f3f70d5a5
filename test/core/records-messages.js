// The messages of the records stress test (test/core/records-stress.test.ts), made from
// (producer, seq) alone, so that a consumer rebuilds the exact message it must have received.
// Shapes: SHARED_SHAPES key lists every producer uses (concurrent appends of one shape) and
// OWN_SHAPES per producer (distinct shapes), nested objects included, more in all than the
// structure table holds (so the table fills and later shapes travel as plain maps).

export const SHARED_SHAPES = 200;
export const OWN_SHAPES = 400;

function mix(x) {
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Message `seq` of producer `p`. */
export function recordMessage(p, seq) {
  const r = mix(p * 1_000_003 + seq);
  const shared = r % 3 === 0;
  const k = shared ? r % SHARED_SHAPES : r % OWN_SHAPES;
  const tag = shared ? `s${k}` : `p${p}s${k}`;
  const body = { [`${tag}.a`]: seq, [`${tag}.b`]: { x: r % 1000, y: [tag, -0, r / 7] } };
  if (r % 5 === 0) body[`${tag}.c`] = new Uint8Array([r & 0xff, (r >>> 8) & 0xff, seq & 0xff]);
  if (r % 7 === 0) body[`${tag}.d`] = 2n ** 63n + BigInt(seq);
  return { p, seq, body, [`${tag}.tail`]: `end ${seq}` };
}
