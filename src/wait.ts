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

/** A live wait: `signal` aborts when the wait must end; `error()` tells why. */
export class WaitScope {
  /** Aborts when the timeout expires, the caller's signal aborts or the layer closes. */
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private cause: Cause | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly cleanups: Array<() => void> = [];

  /**
   * @param what the operation, for error messages (e.g. `receive('chat')`)
   * @param options the caller's `timeout` and `signal`
   * @param layerSignal aborts when the layer closes
   */
  constructor(
    private readonly what: string,
    private readonly options: WaitOptions | undefined,
    layerSignal: AbortSignal,
  ) {
    this.signal = this.controller.signal;
    this.watch(layerSignal, 'close');
    if (options?.signal) this.watch(options.signal, 'abort');
    const timeout = options?.timeout;
    if (timeout !== undefined && this.cause === null && Number.isFinite(timeout)) {
      this.timer = setTimeout(() => this.fire('timeout'), timeout);
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
      default:
        return new LayerClosed(this.what);
    }
  }

  /** Release the timer and listeners. Call once the wait is over, however it ended. */
  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
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
 * caller's signal aborts, rethrow anything else (LayerClosed included). `take` (optional):
 * a synchronous take of one queued message, tried before each wait, so that a loop over a
 * busy channel drains it without a wait scope or a receive promise per message.
 */
export async function* listenLoop<T>(
  receive: (options: WaitOptions) => Promise<T>,
  signal: AbortSignal | undefined,
  take: (() => T | undefined) | null = null,
): AsyncGenerator<T, void, undefined> {
  const options: WaitOptions = signal ? { signal } : {};
  while (!signal?.aborted) {
    let value: T | undefined;
    try {
      value = take === null ? undefined : take();
      if (value === undefined) value = await receive(options);
    } catch (err) {
      if (err instanceof Aborted && signal?.aborted) return;
      throw err;
    }
    yield value as T;
  }
}
