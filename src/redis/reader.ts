/**
 * A reader pops one sorted-set key of one server with BZMPOP (Redis >= 7; BZPOPMIN /
 * BZPOPMAX before that) for as long as someone in this process waits for what that key
 * holds, and hands every popped member to its owner's callback. BZMPOP takes up to
 * `batch()` members in one round trip: the number of local receivers waiting on a plain
 * channel, more for the key of this instance's own `!` channels (nobody else may read it,
 * so what is not wanted yet is buffered in this process). One reader per (server, key),
 * whatever the number of local receivers: they queue in the layer, not on Redis
 * connections.
 *
 * Demand-driven life: `kick()` starts the loop when a receiver arrives (or, for a key read
 * ahead, when the owner has room again); the loop ends when `demand()` is false. `release()` is called when a receiver leaves: if nobody is left and
 * the reader is parked in its pop, it is woken with CLIENT UNBLOCK (the pop then returns
 * nothing, so nothing is taken that nobody wants). A member that was popped anyway in that
 * race is given to the callback, which puts it back or buffers it.
 *
 * Outages: when the blocking connection drops, the pending pop is abandoned (the layer is
 * at most once: a member popped by the server whose reply was lost in the drop is lost)
 * and the loop waits for the connection to come back, then pops again.
 *
 * @module
 */

import { ReplyError } from 'ioredis';
import type { BlockingConnection, RedisServer } from './host.js';

/** Seconds a blocking pop waits before the loop re-checks (a bound on stuck connections). */
const BLOCK_SECONDS = 5;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolve when `conn` is ready, closes again, or after `ms`, whichever comes first. */
function whenReady(conn: BlockingConnection, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      conn.client.off('ready', done);
      conn.client.off('end', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    conn.client.once('ready', done);
    conn.client.once('end', done);
  });
}

/**
 * Redis' id of the connection, for CLIENT UNBLOCK; -1 when the server refuses to say
 * (an ACL user without the CLIENT command): pops then end by their timeout instead.
 */
async function clientId(conn: BlockingConnection): Promise<number> {
  try {
    return Number(await conn.client.client('ID'));
  } catch (err) {
    if (err instanceof ReplyError) return -1;
    throw err;
  }
}

/** What a reader needs from the layer. */
export interface ReaderOwner {
  /** True while someone waits for this key's messages. */
  demand(): boolean;
  /** How many members one pop may take (>= 1). */
  batch(): number;
  /** True once the layer is closed. */
  closed(): boolean;
  /** A popped member and its score (the sender's time, epoch seconds). */
  deliver(member: Buffer, score: number): void;
  /** Something went wrong that is not an outage (e.g. a server error reply). */
  report(err: unknown): void;
  /** The loop ended for want of demand (the owner may forget this reader). */
  idle(): void;
}

/** The reader of one key on one server; see the module comment. */
export class Reader {
  private running = false;
  private blockedOn: BlockingConnection | null = null;
  private unblocking = false;
  /** Resolves when the running loop has ended (null while none runs). */
  private ended: Promise<void> | null = null;
  private markEnded: () => void = () => undefined;

  /**
   * @param server the server holding the key
   * @param key the sorted set to pop
   * @param newestFirst pop the highest score (LIFO) instead of the lowest
   * @param owner the layer's side
   */
  constructor(
    private readonly server: RedisServer,
    readonly key: string,
    private readonly newestFirst: boolean,
    private readonly owner: ReaderOwner,
  ) {}

  /** Make sure the loop runs (call after adding demand). */
  kick(): void {
    if (!this.running && !this.owner.closed()) void this.loop();
  }

  /** Wake a parked pop when nobody waits any more (call after removing demand). */
  release(): void {
    const conn = this.blockedOn;
    if (conn === null || conn.id === null || conn.id < 0 || this.unblocking || this.owner.demand() || this.owner.closed()) return;
    this.unblocking = true;
    const id = conn.id;
    this.server
      .run('unblock', (c) => c.client('UNBLOCK', id) as Promise<number>)
      .then(
        (woken) => {
          this.unblocking = false;
          // 0: the pop had not reached the server yet; try again shortly.
          if (woken === 0 && this.blockedOn === conn) setTimeout(() => this.release(), 10).unref();
        },
        () => {
          this.unblocking = false; // the server is away; the pop ends with its timeout
        },
      );
  }

  /**
   * Before the layer closes its connections: wake a parked pop (CLIENT UNBLOCK) and wait for
   * the loop to end, so that what the pop took, if anything, reaches the owner's `deliver`
   * instead of being lost with the socket. Call once the owner reports `closed()`. Gives up
   * after `ms`, or at once when the command connection is not ready (an outage: nothing in
   * flight can be saved then) or the server does not tell connection ids.
   */
  async stop(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.running && this.ended !== null && Date.now() < until) {
      const conn = this.blockedOn;
      if (this.server.client.status !== 'ready' || (conn !== null && conn.id !== null && conn.id < 0)) return;
      if (conn !== null && conn.id !== null) {
        const id = conn.id;
        await this.server.run('unblock', (c) => c.client('UNBLOCK', id) as Promise<number>).catch(() => 0);
      }
      const ended = this.ended;
      if (ended === null) return; // the loop ended meanwhile
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5);
        void ended.then(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private async loop(): Promise<void> {
    this.running = true;
    this.ended = new Promise<void>((resolve) => {
      this.markEnded = resolve;
    });
    const conn = this.server.takeBlocking();
    try {
      while (!this.owner.closed() && this.owner.demand()) {
        const status = conn.client.status;
        if (status === 'end') break;
        if (status !== 'ready') {
          await whenReady(conn, 250); // ioredis is (re)connecting this connection
          continue;
        }
        try {
          if (conn.id === null) conn.id = await clientId(conn);
          if (this.owner.closed() || !this.owner.demand()) break;
          const closed = conn.closed;
          this.blockedOn = conn;
          const pop = this.pop(conn);
          pop.catch(() => undefined); // may settle after the race below was decided by `closed`
          const popped = await Promise.race([pop, closed]);
          this.blockedOn = null;
          if (popped) {
            for (const [member, score] of popped) this.owner.deliver(member, score);
            // Let the receivers just served run and ask again before demand is checked: a
            // listen loop's next receive is a few promise hops away, and a loop that ended
            // for want of demand would hand its connection back and start anew right after.
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
        } catch (err) {
          this.blockedOn = null;
          if (this.owner.closed()) break;
          if (this.server.hasBzmpop && /unknown command/i.test(String((err as Error)?.message))) {
            this.server.hasBzmpop = false; // Redis < 7: pop one at a time from now on
            continue;
          }
          if (conn.client.status === 'ready') {
            this.owner.report(err);
            await sleep(100);
          }
        }
      }
    } finally {
      this.running = false;
      this.blockedOn = null;
      this.server.releaseBlocking(conn);
      this.ended = null;
      this.markEnded();
    }
    // Demand may have returned between the last check and the release.
    if (this.owner.closed()) return;
    if (this.owner.demand()) this.kick();
    else this.owner.idle();
  }

  /** One blocking pop: [member, score] pairs, or null when it timed out or was unblocked. */
  private async pop(conn: BlockingConnection): Promise<Array<[Buffer, number]> | null> {
    const end = this.newestFirst ? 'MAX' : 'MIN';
    if (this.server.hasBzmpop) {
      // Reply: [key, [[member, score], ...]] or null.
      const reply = (await conn.client.callBuffer(
        'BZMPOP', BLOCK_SECONDS, 1, this.key, end, 'COUNT', Math.max(1, this.owner.batch()),
      )) as [Buffer, Array<[Buffer, Buffer]>] | null;
      return reply === null ? null : reply[1].map(([member, score]) => [member, Number(score.toString())]);
    }
    const reply = this.newestFirst
      ? await conn.client.bzpopmaxBuffer(this.key, BLOCK_SECONDS)
      : await conn.client.bzpopminBuffer(this.key, BLOCK_SECONDS);
    return reply === null ? null : [[reply[1], Number(reply[2].toString())]];
  }
}
