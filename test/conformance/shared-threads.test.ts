/**
 * The conformance suite against the shared-memory layer across threads: `peer` runs in a
 * worker thread (an instance attached there with `attachLayer(handle)`, driven through
 * test/workers/layer-proxy.ts), so every message and group operation of the suite crosses
 * from one thread's wasm instance to another's through the shared memory.
 */
import { createLayer, type ChannelLayer, type SharedLayer } from '../../dist/index.js';
import { workerPeer } from '../workers/layer-proxy.js';
import { conformance } from './suite.js';

conformance({
  name: 'shared (across threads)',
  create: (options) => createLayer({ backend: 'shared', memory: 8 * 1024 * 1024, maxNames: 4096, ...options }),
  peer: (layer: ChannelLayer) => workerPeer((layer as SharedLayer).handle),
  tradeoffs: {
    delivery: ['at-most-once', 'at-least-once'],
    order: ['fifo', 'lifo'],
    full: ['reject', 'drop-oldest', 'wait'],
  },
});
