/**
 * The connections to one Redis server: one command connection (pipelined, shared by every
 * non-blocking operation) and a small pool of blocking connections (each BZPOPMIN holds
 * one for as long as it waits).
 *
 * Round trips: every command issued on the command connection in one turn of the event loop
 * (concurrent sends, a group send's per-shard scripts, the puts-back of several receivers)
 * leaves in one write and costs one round trip together: the socket is corked at the first
 * write of a turn and uncorked from `process.nextTick`, which runs once the synchronous code
 * and the promise reactions that issued them are done (see {@link batchWrites}). ioredis'
 * own auto-pipelining does the same with a `setImmediate` and a Pipeline object per batch;
 * measured here, that costs a single awaited operation 15 to 50 µs of CPU more than a direct
 * write, which is most of what a round trip to a local server costs, so it is off (a user
 * may still turn it on with `redisOptions`). Commands are pipelined on the socket either way.
 *
 * Outage policy, chosen so that no caller hangs and nothing is applied behind a caller's
 * back:
 * - ioredis' offline queue is off: a command is written only while the connection is
 *   ready. Before that, {@link RedisServer.run} waits for the connection up to
 *   `operationTimeout` and then rejects with ConnectionError. (With the offline queue on,
 *   a send the caller was told had failed would still be written after a reconnect.)
 * - Unanswered commands are not re-sent after a reconnect (a send whose reply was lost may
 *   have been applied; re-sending it could deliver it twice). They reject after
 *   `operationTimeout` (ioredis' `commandTimeout`).
 * - ioredis keeps reconnecting (at most one second apart) for as long as the layer is open,
 *   so pending receives resume when the server returns.
 *
 * @module
 */

import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import { AuthenticationError, ConnectionError } from '../errors.js';
import type { HostConfig } from './options.js';
import {
  FLUSH,
  GROUP_ADD,
  GROUP_DELIVER,
  GROUP_MEMBERS,
  GROUP_SEND_LOCAL,
  LEASE_SETTLE,
  LEASE_TAKE,
  POP_MANY,
  SEND,
  SEND_MANY,
  UNPOP,
  type ScriptDefinition,
} from './scripts.js';

const SCRIPTS: Record<string, ScriptDefinition> = {
  rbSend: SEND,
  rbGroupDeliver: GROUP_DELIVER,
  rbGroupSendLocal: GROUP_SEND_LOCAL,
  rbGroupMembers: GROUP_MEMBERS,
  rbGroupAdd: GROUP_ADD,
  rbUnpop: UNPOP,
  rbFlush: FLUSH,
  rbLeaseTake: LEASE_TAKE,
  rbLeaseSettle: LEASE_SETTLE,
  rbSendMany: SEND_MANY,
  rbPopMany: POP_MANY,
};

type Arg = string | number | Buffer;

/** A command connection with the layer's scripts defined on it. */
export interface ScriptedRedis extends Redis {
  rbSend(key: string, member: Buffer, score: number, cutoff: number, capacity: number, ttlMs: number, policy: string): Promise<[number, number, number]>;
  rbGroupDeliver(numKeys: number, ...args: Arg[]): Promise<number[]>;
  rbGroupSendLocal(key: string, ...args: Arg[]): Promise<Array<number | string>>;
  rbGroupMembers(key: string, cutoff: number): Promise<string[]>;
  rbGroupAdd(key: string, channel: string, score: number, ttlMs: number): Promise<number>;
  rbUnpop(key: string, member: Buffer, score: number, ttlMs: number): Promise<number>;
  rbFlush(pattern: string): Promise<number>;
  rbLeaseTakeBuffer(...args: Arg[]): Promise<[Buffer | null, Buffer | null, number | null, number]>;
  rbLeaseSettle(...args: Arg[]): Promise<number>;
  rbSendMany(key: string, ...args: Arg[]): Promise<[number, number, number, number]>;
  rbPopManyBuffer(key: string, cutoff: number, count: number, end: 'min' | 'max'): Promise<Array<number | Buffer>>;
}

/** Idle blocking connections kept per server; more are closed when released. */
const MAX_IDLE_BLOCKING = 4;

/** A connection that runs blocking pops, with what a reader needs to manage it. */
export class BlockingConnection {
  /** Redis' id of this connection (for CLIENT UNBLOCK); null until asked, reset on reconnect, -1 if refused. */
  id: number | null = null;
  /** Resolves (with null) the next time the connection closes. */
  closed: Promise<null>;
  private markClosed!: () => void;

  /** @param client the ioredis client */
  constructor(readonly client: Redis) {
    this.closed = this.nextClosed();
    client.on('close', () => {
      this.id = null;
      this.markClosed();
      this.closed = this.nextClosed();
    });
  }

  private nextClosed(): Promise<null> {
    return new Promise<null>((resolve) => {
      this.markClosed = () => resolve(null);
    });
  }
}

/** One Redis server of the ring. */
export class RedisServer {
  /** An address without credentials, for messages. */
  readonly label: string;
  /** The command connection. */
  readonly client: ScriptedRedis;
  /** False once the server refused BZMPOP (Redis < 7). */
  hasBzmpop = true;
  private readonly idle: BlockingConnection[] = [];
  private readonly blocking = new Set<BlockingConnection>();
  private lastError: Error | null = null;
  /** The server's refusal of the credentials (NOAUTH, WRONGPASS) until a connection is ready again. */
  private authRefusal: Error | null = null;
  /** Callers waiting for a connection: told at once when the server refuses the credentials. */
  private readonly refusalListeners = new Set<(err: Error) => void>();
  private ended = false;
  /** The wait for each connection that is opening, shared by every caller (see whenReady). */
  private readonly readyWaits = new Map<Redis, Promise<void>>();

  /**
   * @param config how to connect
   * @param operationTimeout ms to wait for a connection or a reply
   */
  constructor(
    private readonly config: HostConfig,
    private readonly operationTimeout: number,
  ) {
    this.label = config.label;
    this.client = this.createClient(false) as ScriptedRedis;
    for (const [name, definition] of Object.entries(SCRIPTS)) this.client.defineCommand(name, definition);
  }

  /**
   * Wait until the command connection is ready, at most `operationTimeout` ms; then open
   * one blocking connection ahead of the first receive (it joins the idle pool).
   */
  async connect(what = 'connect'): Promise<void> {
    await this.whenReady(this.client, what);
    if (this.idle.length === 0 && this.blocking.size === 0) this.releaseBlocking(this.takeBlocking());
  }

  /**
   * Run `fn` on the command connection once it is ready. Connection trouble (unreachable,
   * no answer within `operationTimeout`, dropped) rejects with ConnectionError; errors the
   * server answers with (ReplyError) pass through unchanged.
   */
  run<T>(what: string, fn: (client: ScriptedRedis) => Promise<T>): Promise<T> {
    if (this.client.status === 'ready') return fn(this.client).catch((err: unknown) => this.fail(what, err));
    return this.whenReady(this.client, what).then(() => fn(this.client).catch((err: unknown) => this.fail(what, err)));
  }

  /** Take a blocking connection from the pool (connecting a new one if none is idle). */
  takeBlocking(): BlockingConnection {
    const pooled = this.idle.pop();
    if (pooled !== undefined) return pooled;
    const conn = new BlockingConnection(this.createClient(true));
    this.blocking.add(conn);
    conn.client.connect().catch(() => {
      /* reported through the 'error' event; the reader waits for 'ready' */
    });
    return conn;
  }

  /** Give a blocking connection back to the pool. */
  releaseBlocking(conn: BlockingConnection): void {
    if (!this.ended && this.idle.length < MAX_IDLE_BLOCKING && conn.client.status !== 'end') {
      this.idle.push(conn);
      return;
    }
    this.blocking.delete(conn);
    disconnect(conn.client);
  }

  /**
   * Close every connection of this server now: pending commands reject, no reconnection
   * is attempted, and the sockets end (nothing is left to keep the process alive).
   */
  close(): void {
    this.ended = true;
    disconnect(this.client);
    for (const conn of this.blocking) disconnect(conn.client);
    this.idle.length = 0;
    this.blocking.clear();
  }

  private createClient(blocking: boolean): Redis {
    const options: RedisOptions = {
      // Defaults a user may change through redisOptions or the host entry:
      retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000),
      connectTimeout: Math.min(this.operationTimeout, 10_000),
      // Batched by batchWrites instead (see the module comment).
      enableAutoPipelining: false,
      ...this.config.options,
      // What the outage policy above relies on:
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: null,
      commandTimeout: blocking ? undefined : this.operationTimeout,
    };
    const client = this.config.url !== null ? new Redis(this.config.url, options) : new Redis(options);
    // A blocking connection carries one pop at a time: nothing to batch there.
    if (!blocking && !options.enableAutoPipelining) client.on('connect', () => batchWrites(client.stream));
    // Without a listener ioredis prints every connection error; keep the last one for messages.
    client.on('error', (err: Error) => {
      this.lastError = err;
      if (authRefusalOf(err) !== null) {
        this.authRefusal = err;
        for (const listener of [...this.refusalListeners]) listener(err);
      }
    });
    client.on('ready', () => {
      this.authRefusal = null;
    });
    return client;
  }

  /**
   * Resolve once `client` is ready; reject with ConnectionError when it ends or after
   * `operationTimeout`. Callers that wait for the same connection at once share one set of
   * listeners (a burst of operations on a connection that is still opening is normal).
   */
  private whenReady(client: Redis, what: string): Promise<void> {
    if (client.status === 'ready') return Promise.resolve();
    if (client.status === 'end' || this.ended) {
      return Promise.reject(new ConnectionError(`${what}: the connection to redis ${this.label} is closed`));
    }
    if (this.authRefusal !== null) return Promise.reject(this.refused(what, this.authRefusal));
    let pending = this.readyWaits.get(client);
    if (pending === undefined) {
      pending = this.waitReady(client).finally(() => this.readyWaits.delete(client));
      this.readyWaits.set(client, pending);
    }
    return pending.then(
      () => undefined,
      (err: unknown) => {
        const failure = err as { closed?: boolean; last?: Error | null; refused?: Error };
        if (failure.refused !== undefined) throw this.refused(what, failure.refused);
        if (failure.closed) throw new ConnectionError(`${what}: the connection to redis ${this.label} was closed`);
        const last = failure.last ? ` (last error: ${failure.last.message})` : '';
        throw new ConnectionError(
          `${what}: redis ${this.label} is unreachable: no connection within ${this.operationTimeout} ms ` +
            `(option operationTimeout)${last}`,
          failure.last ?? undefined,
        );
      },
    );
  }

  /** One wait for `client`: resolves when ready, rejects with `{ closed }`, `{ refused }` or `{ last }` (see whenReady). */
  private waitReady(client: Redis): Promise<void> {
    if (client.status === 'wait') {
      client.connect().catch(() => {
        /* reported through 'error'; the timer below decides */
      });
    }
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('end', onEnd);
        this.refusalListeners.delete(onRefusal);
      };
      const onRefusal = (err: Error) => {
        done();
        reject({ refused: err });
      };
      this.refusalListeners.add(onRefusal);
      const onReady = () => {
        done();
        resolve();
      };
      const onEnd = () => {
        done();
        reject({ closed: true });
      };
      const timer = setTimeout(() => {
        done();
        reject({ last: this.lastError });
      }, this.operationTimeout);
      client.once('ready', onReady);
      client.once('end', onEnd);
    });
  }

  /** The AuthenticationError of a refusal `err` (NOAUTH, WRONGPASS) for operation `what`. */
  private refused(what: string, err: Error): AuthenticationError {
    const refusal = authRefusalOf(err) ?? 'AUTH';
    const hint =
      refusal === 'NOAUTH'
        ? 'the server requires a password: give it with the option password (and username for an ACL user), ' +
          'in the URL (redis://user:password@host) or in the host entry'
        : 'the user name or password does not match the server\'s (options password and username, the URL, or the host entry)';
    return new AuthenticationError(
      `${what}: redis ${this.label} refused the credentials (${err.message.trim()}): ${hint}`,
      refusal,
      err,
    );
  }

  private fail(what: string, err: unknown): never {
    if (err instanceof ReplyError && authRefusalOf(err as Error) !== null) throw this.refused(what, err as Error);
    if (err instanceof ReplyError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    if (message === 'Command timed out') {
      throw unconfirmed(
        new ConnectionError(
          `${what}: redis ${this.label} did not answer within ${this.operationTimeout} ms (option operationTimeout); ` +
            `the operation may or may not have been applied`,
          err,
        ),
      );
    }
    if (message === 'Connection is closed.') {
      // The command was written (a command is only written on a ready connection) and the
      // connection closed before its reply: it may have been applied.
      throw unconfirmed(
        new ConnectionError(
          `${what}: lost the connection to redis ${this.label} before its reply; the operation may or may not have been applied`,
          err,
        ),
      );
    }
    throw new ConnectionError(`${what}: lost the connection to redis ${this.label}: ${message}`, err);
  }
}

/** Errors of commands that were written and got no reply: they may or may not have been applied. */
const unconfirmedErrors = new WeakSet<Error>();

function unconfirmed(err: ConnectionError): ConnectionError {
  unconfirmedErrors.add(err);
  return err;
}

/** True for a {@link RedisServer.run} rejection whose command may or may not have been applied. */
export function isUnconfirmed(err: unknown): err is ConnectionError {
  return err instanceof ConnectionError && unconfirmedErrors.has(err);
}

/** `'NOAUTH'` / `'WRONGPASS'` when `err` is the server refusing the credentials, else null. */
function authRefusalOf(err: Error): string | null {
  const m = /(?:^|: )(NOAUTH|WRONGPASS)\b/.exec(err.message);
  if (m !== null) return m[1] as string;
  // Redis before 6: "ERR invalid password".
  return /^ERR invalid password/.test(err.message) ? 'WRONGPASS' : null;
}

/** Sockets whose writes {@link batchWrites} already batches (ioredis makes a new one per connection). */
const batched = new WeakSet<object>();

/**
 * Make the writes to `stream` issued in one turn of the event loop leave together: the
 * first write corks the socket and schedules the uncork with `process.nextTick`. A tick
 * scheduled from a promise reaction runs only once the microtask queue is empty, so the
 * commands of every continuation that runs in the same turn (16 receivers resumed by one
 * reply, say) join the batch. Writing is otherwise unchanged: same bytes, same order, and
 * the socket is never left corked past the current turn.
 */
export function batchWrites(stream: NodeJS.WritableStream & { cork(): void; uncork(): void }): void {
  if (batched.has(stream)) return;
  batched.add(stream);
  const write = stream.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  stream.write = function (this: unknown, ...args: unknown[]): boolean {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return (write as (...a: unknown[]) => boolean).apply(stream, args);
  } as typeof stream.write;
}

/**
 * Disconnect once. A second `disconnect()` on an ended client arms ioredis' 2 s
 * "destroy the stream" timer on a stream that has already closed, and that timer alone
 * keeps the process alive for 2 s after `close()`.
 */
function disconnect(client: Redis): void {
  if (client.status !== 'end') client.disconnect();
}
