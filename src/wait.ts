/**
 * One cancellation scope per wait: it folds the caller's `timeout`, the caller's
 * `signal` and the layer's own close signal into a single `AbortSignal`, and says which of
 * them fired as the right ringbus error. Every backend waits through it, so a timeout, an
 * abort and a close look the same whatever the backend.
 *
 * @module
 */

import { Aborted, LayerClosed, TimeoutError } from './errors.js';
import type { WaitOptions } from './layer.js';

type Cause = 'timeout' | 'abort' | 'close';

/**
 * The longest delay one Node timer takes: `setTimeout` with 2^31 ms or more fires at once
 * (with a TimeoutOverflowWarning). Longer delays are chained from timers of at most this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer of {@link longTimeout}: cancel it, or let it not keep the event loop alive. */
export interface LongTimer {
  /** Cancel it (idempotent). */
  clear(): void;
  /** Do not keep the event loop alive for it. */
  unref(): LongTimer;
}

/**
 * `setTimeout` for any finite delay: delays of 2^31 ms or more (about 24.8 days) are chained
 * from shorter timers instead of firing at once. A non-finite or negative delay is a
 * RangeError (the callers check their options first; this is the last line).
 */
export function longTimeout(fn: () => void, ms: number): LongTimer {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`invalid delay ${ms} ms: it must be a finite number >= 0`);
  const end = Date.now() + ms;
  let timer: ReturnType<typeof setTimeout>;
  let unref = false;
  const arm = (left: number): void => {
    timer = setTimeout(() => {
      const rest = end - Date.now();
      if (rest > 0) arm(rest);
      else fn();
    }, Math.min(left, MAX_TIMER_MS));
    if (unref) timer.unref?.();
  };
  arm(ms);
  const handle: LongTimer = {
    clear: () => clearTimeout(timer),
    unref: () => {
      unref = true;
      timer.unref?.();
      return handle;
    },
  };
  return handle;
}

/** A live wait: `signal` aborts when the wait must end; `error()` tells why. */
export class WaitScope {
  /** Aborts when the timeout expires, the caller's signal aborts or the layer closes. */
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private cause: Cause | null = null;
  private timer: LongTimer | undefined;
  private readonly cleanups: Array<() => void> = [];

  /**
   * @param what the operation, for error messages (e.g. `receive('chat')`)
   * @param options the caller's `timeout` and `signal`
   * @param layerSignal aborts when the layer closes
   */
  constructor(
    private readonly what: string,
    private readonly options: WaitOptions | undefined,
    private readonly layerSignal: AbortSignal,
  ) {
    this.signal = this.controller.signal;
    this.watch(layerSignal, 'close');
    if (options?.signal) this.watch(options.signal, 'abort');
    const timeout = options?.timeout;
    if (timeout !== undefined && this.cause === null && Number.isFinite(timeout)) {
      this.timer = longTimeout(() => this.fire('timeout'), timeout);
    }
  }

  /** True once the wait must end. */
  get ended(): boolean {
    return this.cause !== null;
  }

  /** The error to reject with, once `signal` has aborted. */
  error(): Error {
    switch (this.cause) {
      case 'timeout':
        return new TimeoutError(this.what, this.options?.timeout ?? 0);
      case 'abort':
        return new Aborted(this.what, this.options?.signal?.reason);
      default: {
        const reason: unknown = this.layerSignal.reason;
        return new LayerClosed(this.what, reason instanceof LayerClosed ? reason.detail : undefined);
      }
    }
  }

  /** Release the timer and listeners. Call once the wait is over, however it ended. */
  dispose(): void {
    this.timer?.clear();
    for (const c of this.cleanups) c();
    this.cleanups.length = 0;
  }

  private watch(signal: AbortSignal, cause: Cause): void {
    if (signal.aborted) {
      this.fire(cause);
      return;
    }
    const onAbort = () => this.fire(cause);
    signal.addEventListener('abort', onAbort, { once: true });
    this.cleanups.push(() => signal.removeEventListener('abort', onAbort));
  }

  private fire(cause: Cause): void {
    if (this.cause !== null) return;
    this.cause = cause;
    this.controller.abort(cause);
  }
}

/**
 * The async iterator behind every layer's `listen`: receive in a loop; end quietly when the
 * caller's signal aborts, rethrow anything else (LayerClosed included).
 */
export async function* listenLoop<T>(
  receive: (options: WaitOptions) => Promise<T>,
  signal: AbortSignal | undefined,
): AsyncGenerator<T, void, undefined> {
  const options: WaitOptions = signal ? { signal } : {};
  while (!signal?.aborted) {
    let value: T;
    try {
      value = await receive(options);
    } catch (err) {
      if (err instanceof Aborted && signal?.aborted) return;
      throw err;
    }
    yield value;
  }
}
