/**
 * The conformance suite against the shared-memory layer with the records codec
 * (`records: true`, src/codec/records.ts) on the layer and on its peer: every contract of the
 * plain encoding holds when messages travel as records against the bus's structure table.
 */
import { attachLayer, createLayer, type ChannelLayer, type SharedLayer } from '../../dist/index.js';
import { conformance } from './suite.js';

conformance({
  name: 'shared, records (same thread)',
  create: (options) => createLayer({ backend: 'shared', memory: 8 * 1024 * 1024, maxNames: 4096, records: true, ...options }),
  peer: async (layer: ChannelLayer) => {
    const { handle } = layer as SharedLayer;
    return attachLayer({ ...handle, options: { ...handle.options, records: true } });
  },
  tradeoffs: {
    delivery: ['at-most-once', 'at-least-once'],
    order: ['fifo', 'lifo'],
    full: ['reject', 'drop-oldest', 'wait'],
  },
});
