/**
 * Shard selection of channels_redis: zlib's CRC-32 of the UTF-8 bytes, its low 12 bits
 * (0..4095), scaled down to one of `n` hosts. Every process that shares a Redis ring must
 * agree on this function bit for bit, so it is written out here rather than taken from a
 * package whose variant (polynomial, reflection, final xor) could differ.
 *
 * @module
 */

/** Lookup table of the reflected CRC-32 polynomial 0xEDB88320 (the one zlib uses). */
const TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

const utf8 = new TextEncoder();

/** zlib's CRC-32 (Python's `binascii.crc32`) of `data`, as an unsigned 32-bit integer. */
export function crc32(data: Uint8Array | string): number {
  const bytes = typeof data === 'string' ? utf8.encode(data) : data;
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    crc = (TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * The host index of `value` on a ring of `ringSize` hosts, as channels_redis computes it:
 * 0 for one host, else `floor((crc32(value) & 0xFFF) / (4096 / ringSize))`. The division is
 * a floating-point one in Python too, so the two agree for every ring size.
 */
export function shardIndex(value: string, ringSize: number): number {
  if (ringSize <= 1) return 0;
  return Math.floor((crc32(value) & 0xfff) / (4096 / ringSize));
}
