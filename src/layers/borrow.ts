/**
 * Borrowed receives (`receiveBorrowed`, see {@link Borrowed} in src/layer.ts) for backends
 * whose messages arrive as private copies anyway (memory, Redis): the borrow wraps a fresh
 * message, and `release()` only marks it released. The contract is the same as the shared
 * layer's (src/layers/shared/borrow.ts), so code written against it runs everywhere.
 *
 * @module
 */

import type { Borrowed, Message } from '../layer.js';

/** A borrow of a message the caller already owns outright (a private copy). */
export function copiedBorrow<T = Message>(message: T): Borrowed<T> {
  let released = false;
  return {
    message,
    get released() {
      return released;
    },
    release(): boolean {
      if (released) return false;
      released = true;
      return true;
    },
  };
}
