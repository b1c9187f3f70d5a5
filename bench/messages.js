// The benchmark messages, the same for every suite and every thread (workers import this file
// too), so that a ratio always compares the same bytes on both sides.
//
// - chat: the small message a chat application sends;
// - 1kib / 64kib: the chat message carrying a binary payload of that size.
// `n` changes with every message, as a sequence number would, so nothing can be cached.

/** The message kinds, smallest first. */
export const MESSAGE_KINDS = ['chat', '1kib', '64kib'];

/** Human names of the message kinds, for tables and charts. */
export const MESSAGE_LABELS = { chat: 'chat', '1kib': '1 KiB', '64kib': '64 KiB' };

const payloads = {
  chat: null,
  '1kib': fill(1024),
  '64kib': fill(64 * 1024),
};

function fill(size) {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

/** The benchmark message of `kind` with sequence number `n`. */
export function makeMessage(kind, n) {
  const payload = payloads[kind];
  if (payload === undefined) throw new TypeError(`unknown message kind ${JSON.stringify(kind)}; expected one of ${MESSAGE_KINDS.join(', ')}`);
  return payload === null ? { type: 'chat.message', text: 'hello', n } : { type: 'chat.message', text: 'hello', n, payload };
}

/**
 * How many messages of `kind` one throughput sample carries: enough that a sample lasts well
 * over the timer's resolution and the per-batch handshake, few enough to get many samples.
 */
export function batchFor(kind, quick) {
  const base = kind === 'chat' ? 2000 : kind === '1kib' ? 1000 : 100;
  return quick ? Math.max(20, base / 4) : base;
}
