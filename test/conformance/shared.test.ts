/**
 * The conformance suite against the shared-memory layer, both instances in this thread:
 * `peer` is a second instance attached to the same shared memory (`attachLayer(handle)`),
 * so every message really goes through the core's queues, registry and groups.
 */
import { attachLayer, createLayer, type ChannelLayer, type SharedLayer } from '../../dist/index.js';
import { conformance } from './suite.js';

conformance({
  name: 'shared (same thread)',
  // A small region keeps 100+ layers per run cheap; every option of the suite still fits.
  create: (options) => createLayer({ backend: 'shared', memory: 8 * 1024 * 1024, maxNames: 4096, ...options }),
  peer: async (layer: ChannelLayer) => attachLayer((layer as SharedLayer).handle),
  tradeoffs: {
    delivery: ['at-most-once', 'at-least-once'],
    order: ['fifo', 'lifo'],
    full: ['reject', 'drop-oldest', 'wait'],
  },
});
