/**
 * The conformance suite against the hybrid backend and a real redis-server, twice:
 * - 'hybrid (same machine)': the peer is attached to the layer's bus (`attachLayer(handle)`),
 *   so its traffic to the layer's channels goes through shared memory only;
 * - 'hybrid (two machines)': the peer is a second hybrid bus on the same Redis and prefix, so
 *   its sends to the layer's channels and groups cross Redis and the layer's bus router.
 * Each layer gets its own random key prefix, so tests never see each other's keys.
 */
import { describe } from 'vitest';
import { attachLayer, createLayer, type ChannelLayer, type HybridLayer } from '../../dist/index.js';
import { redisTestsEnabled, uniquePrefix, useRedisServer } from '../redis/server.js';
import { conformance } from './suite.js';

const enabled = redisTestsEnabled();

describe.runIf(enabled)('hybrid backend', () => {
  const redis = useRedisServer();
  const optionsOf = new WeakMap<ChannelLayer, Record<string, unknown>>();

  const create = async (options?: Record<string, unknown>) => {
    const all = { hosts: [redis.url], prefix: uniquePrefix('hyb'), memory: 8 * 1024 * 1024, maxNames: 4096, ...options };
    const layer = await createLayer({ backend: 'hybrid', ...all });
    optionsOf.set(layer, all);
    return layer;
  };
  const tradeoffs = {
    delivery: ['at-most-once', 'at-least-once'] as Array<'at-most-once' | 'at-least-once'>,
    order: ['fifo', 'lifo'] as Array<'fifo' | 'lifo'>,
    // full: 'drop-oldest' / 'wait' are refused layer-wide (process-specific channels share one Redis key)
    full: ['reject'] as Array<'reject' | 'drop-oldest' | 'wait'>,
  };

  conformance({
    name: 'hybrid (same machine)',
    create,
    peer: async (layer) => attachLayer((layer as HybridLayer).handle),
    tradeoffs,
    slackMs: 100,
    sync: false, // the suite's plain channels are remote (Redis): trySend / tryReceive throw Unsupported there
  });

  conformance({
    name: 'hybrid (two machines)',
    create,
    peer: (layer) => createLayer({ backend: 'hybrid', ...(optionsOf.get(layer) ?? {}) }) as Promise<ChannelLayer>,
    tradeoffs,
    slackMs: 100,
    sync: false, // the suite's plain channels are remote (Redis): trySend / tryReceive throw Unsupported there
  });
});
