/**
 * How the conformance suite meets a backend. Each `test/conformance/<backend>.test.ts`
 * builds one of these and calls `conformance(backend)` from `./suite.ts`.
 */
import type { ChannelLayer } from '../../dist/index.js';

export interface Backend {
  /** Shown in test names, e.g. 'memory', 'shared (same thread)', 'shared (across threads)'. */
  name: string;
  /** A fresh, empty layer with these options (backend-specific options may be added by the backend). */
  create(options?: Record<string, unknown>): Promise<ChannelLayer>;
  /**
   * Another instance on the same bus as `layer`: sends from it reach `layer`'s channels and
   * groups. The memory backend returns `layer` itself; the shared backend an attached layer
   * (in this thread, or a proxy to one in a worker thread); Redis a second connection.
   * Closed by the suite before `layer`.
   */
  peer(layer: ChannelLayer): Promise<ChannelLayer>;
  /** Trade-off values this backend claims (sections for the others are skipped). */
  tradeoffs: {
    delivery: Array<'at-most-once' | 'at-least-once'>;
    order: Array<'fifo' | 'lifo'>;
    full: Array<'reject' | 'drop-oldest' | 'wait'>;
  };
  /** False for a backend without the synchronous calls (trySend / tryReceive throw Unsupported). */
  sync?: boolean;
  /** Extra ms of slack for timing-dependent checks (expiry), e.g. for a network backend. */
  slackMs?: number;
}
