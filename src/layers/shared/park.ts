/**
 * Waiting on a wake word of the shared core without burning CPU.
 *
 * Protocol (see assembly/queue.ts): read the wake word, count yourself in the parked
 * counter, try once more, and only then wait for the word to change. A producer that
 * publishes and then sees a parked count > 0 bumps the word and notifies, so a wake-up is
 * never lost. Waiting uses `Atomics.waitAsync` on every thread: the main thread may not block,
 * and in a worker a blocking `Atomics.wait` would stop timers and AbortSignals (the event
 * loop) for as long as it waits.
 *
 * The `wait` trade-off: `'park'` waits at once; `'adaptive'` polls `spinBudget` times first
 * (the caller does that synchronously before calling {@link parkUntil}: a message that arrives
 * within microseconds is taken without a round through the event loop; per channel, the shared
 * layer backs off from spinning while spins keep failing, so that idle channels and
 * oversubscribed cores cost little CPU); `'spin'` never parks:
 * it polls, yielding to the event loop every `spinBudget` polls.
 *
 * @module
 */

import { TimeoutError } from '../../errors.js';
import type { WaitOptions, WaitStrategy } from '../../layer.js';
import { WaitScope } from '../../wait.js';

/**
 * Counting a waiter in and out of a parked counter (an int32 index into `i32`). Counting in
 * also adds the waiter's wake-up token (assembly/wake.ts), so it goes through the core.
 */
export interface ParkedCounter {
  /** Count the waiter in (and arm its token; the `waits` figure of stats counts this). */
  enter(i32: Int32Array, count: number): void;
  /** Count the waiter out. */
  leave(i32: Int32Array, count: number): void;
}

/** How a wait spins before it parks. */
export interface Strategy {
  wait: WaitStrategy;
  spinBudget: number;
  /**
   * Called after the wake word was read and before parking, and between spin rounds: it may
   * close the layer (the shared layer does when its bus was shut down), which ends the wait
   * with the scope's error.
   */
  check?: () => void;
}

/**
 * A pending `Atomics.waitAsync` does not keep Node's event loop alive: a thread whose only
 * work is a parked receive would simply exit. While any wait of this thread is parked, one
 * idle interval timer keeps the loop alive.
 */
let parkedHere = 0;
let keepAlive: ReturnType<typeof setInterval> | undefined;

function holdLoop(): void {
  if (parkedHere++ === 0) {
    // One timer per thread, created once; ref()/unref() are much cheaper than re-creating it.
    if (keepAlive === undefined) keepAlive = setInterval(() => {}, 1 << 30);
    else keepAlive.ref();
  }
}

function releaseLoop(): void {
  if (--parkedHere === 0) keepAlive?.unref();
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Same-thread wake-ups. A notify from this thread to a `waitAsync` of this thread resolves
 * that wait's promise only through a task V8 posts to the event loop: measured 70-90 µs on
 * a busy 2-core machine (the hybrid router handing a message from Redis to a receiver of its
 * own thread, twice per remote round trip), against ~2 µs for a promise. A producer that
 * runs in the waiter's thread calls {@link pokeParked} after its push (and its notify):
 * the waits of this thread parked on that word re-check at once.
 *
 * A poked wait's own `waitAsync` may still sit in V8's list (the producer's notify may have
 * woken another waiter of the word, or nobody): after its re-check the poked wait notifies
 * every waiter of the word, so that no stale waiter of its own can swallow a later notify
 * meant for a live one (the rule of a wait that ends by timeout or abort, below). Waiters
 * woken that way re-check and park again.
 */
const pokes = new WeakMap<Int32Array, Map<number, Set<() => void>>>();

/** Wake the waits of this thread parked on int32 index `word` of `i32` (see {@link pokes}). */
export function pokeParked(i32: Int32Array, word: number): void {
  const waits = pokes.get(i32)?.get(word);
  if (waits === undefined) return;
  for (const poke of [...waits]) poke();
}

/** Until `wait` settles or this thread pokes `word` (see {@link pokes}); true when poked. */
async function untilWakeOrPoke(i32: Int32Array, word: number, wait: Promise<unknown>, signal: AbortSignal): Promise<boolean> {
  let words = pokes.get(i32);
  if (words === undefined) pokes.set(i32, (words = new Map()));
  let waits = words.get(word);
  if (waits === undefined) words.set(word, (waits = new Set()));
  let poked = false;
  let poke!: () => void;
  const byPoke = new Promise<void>((resolve) => {
    poke = () => {
      poked = true;
      resolve();
    };
  });
  waits.add(poke);
  try {
    await untilAbort(Promise.race([wait, byPoke]), signal);
  } finally {
    waits.delete(poke);
    if (waits.size === 0) words.delete(word);
  }
  return poked;
}

/**
 * Wait until `attempt()` returns non-zero and return that value. `word` and `count` are
 * int32 indexes into `i32` (the wake word and the parked counter). Rejects with the
 * WaitScope's error (timeout, abort, close) without calling `attempt` again.
 *
 * `counter` counts the waiter in and out of the parked counter through the core: it arms the
 * waiter's wake-up token (assembly/wake.ts) and records the count in its instance's wait word
 * in the same step, for the reaper of a thread that dies while parked (assembly/leases.ts).
 *
 * When the timeout ends the wait, `attempt` runs once more before the TimeoutError: a sender
 * parked above the low-water mark (nobody wakes it before the channel drains to half its
 * capacity) thus only times out when the channel is still full at its deadline.
 */
export async function parkUntil(
  i32: Int32Array,
  word: number,
  count: number,
  what: string,
  options: WaitOptions | undefined,
  closeSignal: AbortSignal,
  strategy: Strategy,
  attempt: () => number,
  counter: ParkedCounter,
): Promise<number> {
  if (options?.timeout === 0) throw new TimeoutError(what, 0);
  const scope = new WaitScope(what, options, closeSignal);
  const deadline = options?.timeout !== undefined ? Date.now() + options.timeout : Infinity;
  try {
    if (strategy.wait === 'spin') {
      for (;;) {
        for (let i = 0; i < strategy.spinBudget; i++) {
          const r = attempt();
          if (r !== 0) return r;
        }
        await yieldToLoop();
        strategy.check?.();
        if (scope.ended) throw scope.error();
      }
    }
    for (;;) {
      if (scope.ended) throw scope.error();
      const seen = Atomics.load(i32, word);
      counter.enter(i32, count);
      let r: number;
      let poked = false;
      try {
        strategy.check?.();
        if (scope.ended) throw scope.error();
        r = attempt();
        if (r !== 0) return r;
        const left = deadline - Date.now();
        // A bounded waitAsync lets V8 drop the waiter by itself when the timeout fires.
        const res = Atomics.waitAsync(i32, word, seen, left === Infinity ? undefined : Math.max(0, left) + 1);
        if (res.async) {
          holdLoop();
          try {
            poked = await untilWakeOrPoke(i32, word, res.value, scope.signal);
          } finally {
            releaseLoop();
          }
        }
      } finally {
        counter.leave(i32, count);
      }
      if (scope.ended) {
        // Our waiter may still sit in V8's list (there is no way to cancel a waitAsync), and a
        // notify meant for a message may have picked it: wake everybody on the word so that
        // no wake-up is lost and no stale waiter lingers. They re-check and park again.
        Atomics.notify(i32, word);
        const err = scope.error();
        if (err instanceof TimeoutError) {
          r = attempt();
          if (r !== 0) return r;
        }
        throw err;
      }
      r = attempt();
      // Poked: our waitAsync may still sit in V8's list (see pokes): flush it, as above.
      if (poked) Atomics.notify(i32, word);
      if (r !== 0) return r;
    }
  } finally {
    scope.dispose();
  }
}

function untilAbort(wait: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    wait.then(done, done);
  });
}
