import { createLayer } from '../../dist/index.js';
import { conformance } from './suite.js';

conformance({
  name: 'memory',
  create: (options) => createLayer({ backend: 'memory', ...options }),
  peer: async (layer) => layer,
  tradeoffs: {
    delivery: ['at-most-once', 'at-least-once'],
    order: ['fifo', 'lifo'],
    full: ['reject', 'drop-oldest', 'wait'],
  },
});
