/**
 * The conformance suite against the Redis backend and a real redis-server started on a
 * free loopback port. Each layer gets its own random key prefix, so tests never see each
 * other's keys; its peer is a second layer (its own connections) with the same prefix.
 */
import { describe } from 'vitest';
import { createLayer, type ChannelLayer } from '../../dist/index.js';
import { redisTestsEnabled, uniquePrefix, useRedisServer } from '../redis/server.js';
import { conformance } from './suite.js';

const enabled = redisTestsEnabled();

describe.runIf(enabled)('redis backend', () => {
  const redis = useRedisServer();
  const optionsOf = new WeakMap<ChannelLayer, Record<string, unknown>>();

  conformance({
    name: 'redis',
    create: async (options) => {
      const all = { hosts: [redis.url], prefix: uniquePrefix('conf'), ...options };
      const layer = await createLayer({ backend: 'redis', ...all });
      optionsOf.set(layer, all);
      return layer;
    },
    peer: (layer) => createLayer({ backend: 'redis', ...(optionsOf.get(layer) ?? {}) }),
    tradeoffs: { delivery: ['at-most-once', 'at-least-once'], order: ['fifo', 'lifo'], full: ['reject', 'drop-oldest', 'wait'] },
    slackMs: 100,
    sync: false,
  });
});
