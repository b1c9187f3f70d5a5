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

/** Counting a waiter in and out of a parked counter (an int32 index into `i32`). */
export interface ParkedCounter {
  /** Count the waiter in. */
  enter(i32: Int32Array, count: number): void;
  /** Count the waiter out. */
  leave(i32: Int32Array, count: number): void;
}

const PLAIN_COUNTER: ParkedCounter = {
  enter: (i32, count) => void Atomics.add(i32, count, 1),
  leave: (i32, count) => void Atomics.sub(i32, count, 1),
};

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
 * Wait until `attempt()` returns non-zero and return that value. `word` and `count` are
 * int32 indexes into `i32` (the wake word and the parked counter). Rejects with the
 * WaitScope's error (timeout, abort, close) without calling `attempt` again.
 *
 * `counter` (optional) counts the waiter in and out of the parked counter instead of plain
 * `Atomics.add` / `Atomics.sub`: the shared layer records the count in its instance's wait
 * word in the same step, for the reaper of a thread that dies while parked (assembly/leases.ts).
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
  counter: ParkedCounter = PLAIN_COUNTER,
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
            await untilAbort(res.value, scope.signal);
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
        throw scope.error();
      }
      r = attempt();
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
