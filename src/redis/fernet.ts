/**
 * Fernet tokens (the format of Python's `cryptography.fernet`), which channels_redis uses
 * for its `symmetric_encryption_keys` option. Token layout, all big-endian:
 *
 * ```
 * 0x80 | timestamp (8 bytes, seconds) | IV (16) | AES-128-CBC ciphertext, PKCS#7 | HMAC-SHA256 (32)
 * ```
 *
 * base64url-encoded with padding. The HMAC covers everything before it and is checked
 * (in constant time) before anything is decrypted. A Fernet key is 32 bytes: the first 16
 * sign, the last 16 encrypt. channels_redis derives the key from the user's secret as
 * `sha256(utf8(secret))`, and tries every configured key when decrypting (MultiFernet).
 *
 * @module
 */

import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 0x80;
const HEADER = 1 + 8 + 16;
const MAC = 32;
/** Tokens stamped this far in the future are refused, as by Python's Fernet. */
const MAX_CLOCK_SKEW_S = 60;

/** Why a token was refused. */
export class InvalidToken extends Error {
  /** @param reason what was wrong with the token */
  constructor(reason: string) {
    super(`invalid encrypted message: ${reason}`);
    this.name = 'InvalidToken';
  }
}

/** One Fernet key. */
export class Fernet {
  private readonly signing: Buffer;
  private readonly encryption: Buffer;

  /** @param key the 32 raw key bytes (not base64) */
  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new TypeError(`a Fernet key is 32 bytes, got ${key.length}`);
    this.signing = Buffer.from(key.subarray(0, 16));
    this.encryption = Buffer.from(key.subarray(16, 32));
  }

  /** The key channels_redis makes from a secret: `sha256(utf8(secret))` (Fernet key = base64url of it). */
  static fromSecret(secret: string | Uint8Array): Fernet {
    return new Fernet(createHash('sha256').update(secret).digest());
  }

  /** Encrypt and sign `data`; returns the token as ASCII bytes. */
  encrypt(data: Uint8Array, nowSeconds: number = Date.now() / 1000): Buffer {
    const iv = randomBytes(16);
    const cipher = createCipheriv('aes-128-cbc', this.encryption, iv);
    const body = Buffer.concat([cipher.update(data), cipher.final()]);
    const header = Buffer.alloc(HEADER);
    header[0] = VERSION;
    header.writeBigUInt64BE(BigInt(Math.floor(nowSeconds)), 1);
    iv.copy(header, 9);
    const mac = createHmac('sha256', this.signing).update(header).update(body).digest();
    // Python's base64.urlsafe_b64decode insists on padding, which Node's 'base64url' omits.
    const b64 = Buffer.concat([header, body, mac]).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
    return Buffer.from(b64, 'ascii');
  }

  /**
   * Check and decrypt a token. `ttlSeconds`: refuse tokens stamped longer ago than this.
   * Throws {@link InvalidToken} for a token this key did not make, or a stale one.
   */
  decrypt(token: Uint8Array, ttlSeconds?: number, nowSeconds: number = Date.now() / 1000): Buffer {
    const raw = decodeToken(token);
    const signed = raw.subarray(0, raw.length - MAC);
    const mac = createHmac('sha256', this.signing).update(signed).digest();
    if (!timingSafeEqual(mac, raw.subarray(raw.length - MAC))) throw new InvalidToken('signature does not match this key');
    const stamped = Number(raw.readBigUInt64BE(1));
    if (ttlSeconds !== undefined && stamped + ttlSeconds < nowSeconds) throw new InvalidToken('token has expired');
    if (stamped > nowSeconds + MAX_CLOCK_SKEW_S) throw new InvalidToken('token is stamped in the future');
    const decipher = createDecipheriv('aes-128-cbc', this.encryption, raw.subarray(9, HEADER));
    try {
      return Buffer.concat([decipher.update(raw.subarray(HEADER, raw.length - MAC)), decipher.final()]);
    } catch {
      throw new InvalidToken('bad padding');
    }
  }
}

function decodeToken(token: Uint8Array): Buffer {
  const text = Buffer.from(token.buffer, token.byteOffset, token.byteLength).toString('ascii');
  if (!/^[A-Za-z0-9_-]+=*$/.test(text)) throw new InvalidToken('not base64url');
  const raw = Buffer.from(text, 'base64url');
  // The ciphertext is a whole number of 16-byte AES blocks, at least one.
  if (raw.length < HEADER + 16 + MAC || (raw.length - HEADER - MAC) % 16 !== 0) throw new InvalidToken('wrong length');
  if (raw[0] !== VERSION) throw new InvalidToken('unknown version');
  return raw;
}

/** Several keys: the first encrypts, every key is tried to decrypt (key rotation). */
export class MultiFernet {
  private readonly keys: Fernet[];

  /** @param keys at least one key; the first one encrypts */
  constructor(keys: Fernet[]) {
    if (keys.length === 0) throw new TypeError('MultiFernet needs at least one key');
    this.keys = keys;
  }

  /** Encrypt with the first key. */
  encrypt(data: Uint8Array): Buffer {
    return (this.keys[0] as Fernet).encrypt(data);
  }

  /** Decrypt with the first key that verifies the token. */
  decrypt(token: Uint8Array, ttlSeconds?: number): Buffer {
    let last: unknown;
    for (const key of this.keys) {
      try {
        return key.decrypt(token, ttlSeconds);
      } catch (err) {
        last = err;
        if (err instanceof InvalidToken && err.message.includes('expired')) throw err;
      }
    }
    throw last instanceof InvalidToken ? new InvalidToken('no configured key verifies it') : (last as Error);
  }
}
