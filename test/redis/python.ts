/**
 * Drives test/redis/python/peer.py: a real channels_redis layer (Debian's
 * python3-channels-redis, run by the Python that server.ts found: RINGBUS_PYTHON, else the first
 * python3/python on PATH that imports channels_redis) answering JSON commands over its stdin/stdout.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Message, MessageValue } from '../../dist/index.js';
import { PYTHON } from './server.js';

const SCRIPT = fileURLToPath(new URL('./python/peer.py', import.meta.url));

/** JSON with tags for what JSON cannot say: bytes and integers beyond 2**53. */
export type Tagged = unknown;

/** Message -> tagged JSON value. */
export function toTagged(value: MessageValue): Tagged {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (typeof value === 'bigint') return { $int: value.toString() };
  if (Array.isArray(value)) return value.map(toTagged);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toTagged(v)]));
  }
  return value;
}

/** Tagged JSON value -> message value (bytes as Uint8Array, big integers as bigint). */
export function fromTagged(value: Tagged): MessageValue {
  if (Array.isArray(value)) return value.map(fromTagged);
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, Tagged>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && keys[0] === '$bytes') return new Uint8Array(Buffer.from(obj.$bytes as string, 'base64'));
    if (keys.length === 1 && keys[0] === '$int') return BigInt(obj.$int as string);
    return Object.fromEntries(keys.map((k) => [k, fromTagged(obj[k])]));
  }
  return value as MessageValue;
}

/** Error answered by the Python side. */
export class PythonError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(`${type}: ${message}`);
  }
}

/** One channels_redis layer in a Python process. */
export class PythonPeer {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private stderr = '';

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {}

  /** Start a peer with RedisChannelLayer keyword arguments (snake_case, as in Django settings). */
  static async start(config: Record<string, unknown>): Promise<PythonPeer> {
    const child = spawn(PYTHON, [SCRIPT, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const peer = new PythonPeer(child);
    child.stderr.on('data', (d: Buffer) => {
      peer.stderr += d.toString();
    });
    const ready = new Promise<void>((resolve, reject) => {
      peer.pending.set(0, { resolve: () => resolve(), reject });
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const reply = JSON.parse(line) as { id: number; ok: boolean; result?: unknown; error?: string; message?: string };
      const waiter = peer.pending.get(reply.id);
      if (waiter === undefined) return;
      peer.pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new PythonError(reply.error ?? 'Error', reply.message ?? ''));
    });
    child.once('exit', (code) => {
      for (const w of peer.pending.values()) w.reject(new Error(`python peer exited (${code}): ${peer.stderr}`));
      peer.pending.clear();
    });
    await ready;
    return peer;
  }

  /** Send one command and wait for its answer. */
  call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin.write(JSON.stringify({ id, op, ...args }) + '\n');
    });
  }

  /** channels_redis' `send`. */
  send(channel: string, message: Message, sample = false): Promise<void> {
    return this.call('send', { channel, message: toTagged(message), sample });
  }

  /** channels_redis' `receive`, with a timeout in seconds; also says how the sample compared. */
  async receive(channel: string, timeout = 5): Promise<{ message: Message; sampleDiff?: string | null }> {
    const r = await this.call<{ message: Tagged; sample_diff?: string | null }>('receive', { channel, timeout });
    return { message: fromTagged(r.message) as Message, sampleDiff: r.sample_diff };
  }

  /** Send one of peer.py's SPECIAL messages (what JSON cannot describe: bytes keys, NaN, ...). */
  sendSpecial(channel: string, name: string): Promise<void> {
    return this.call('send_special', { channel, name });
  }

  /** Receive a message of floats, each described as Python sees it ('nan', 'inf', '-0.0', repr, or 'type:repr'). */
  receiveFloats(channel: string, timeout = 5): Promise<Record<string, string>> {
    return this.call('receive_floats', { channel, timeout });
  }

  /** channels_redis' `new_channel`. */
  newChannel(prefix = 'specific'): Promise<string> {
    return this.call('new_channel', { prefix });
  }

  /** channels_redis' `group_add`. */
  groupAdd(group: string, channel: string): Promise<void> {
    return this.call('group_add', { group, channel });
  }

  /** channels_redis' `group_send`. */
  groupSend(group: string, message: Message, sample = false): Promise<void> {
    return this.call('group_send', { group, message: toTagged(message), sample });
  }

  /** Stop the process (its layer closes its pools first). */
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.write(JSON.stringify({ id: -1, op: 'close' }) + '\n');
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGTERM'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
