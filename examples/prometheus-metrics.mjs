// Export a layer's counters and events to Prometheus with prom-client (npm install prom-client).
// stats() feeds gauges read at every scrape (prom-client calls collect() then); onEvent feeds
// counters of drops, expiries and redeliveries by reason and channel, the moments that
// channels_redis would log. A real service serves `await registry.metrics()` on /metrics
// (e.g. with node:http); here one scrape is printed.
// Run: node examples/prometheus-metrics.mjs
import client from 'prom-client';
import { createLayer } from 'ringbus';

const layer = await createLayer({ capacity: 3, full: 'drop-oldest', delivery: 'at-least-once', leaseTimeout: 60_000 });
const registry = new client.Registry();

// Counters of this layer instance, read from stats() when Prometheus scrapes.
for (const name of ['sent', 'received', 'expired', 'dropped']) {
  registry.registerMetric(
    new client.Gauge({
      name: `ringbus_messages_${name}`,
      help: `Messages ${name} by this layer instance (stats().${name})`,
      collect() {
        this.set(layer.stats()[name]);
      },
    }),
  );
}
// Queue depths per channel (the whole bus on the shared backend).
registry.registerMetric(
  new client.Gauge({
    name: 'ringbus_channel_depth',
    help: 'Messages queued per non-empty channel (stats().depths)',
    labelNames: ['channel'],
    collect() {
      this.reset();
      for (const [channel, depth] of Object.entries(layer.stats().depths)) this.set({ channel }, depth);
    },
  }),
);
// Every drop, expiry and redelivery, as it happens, with why and where.
const events = new client.Counter({
  name: 'ringbus_events_total',
  help: 'Messages dropped, expired or delivered again (layer.onEvent)',
  labelNames: ['type', 'reason', 'channel'],
  registers: [registry],
});
layer.onEvent((e) => {
  const reason = e.type === 'dropped' ? e.reason : e.type; // few label values: a bounded set of series
  events.inc({ type: e.type, reason, channel: e.channel ?? '' }, 'count' in e ? e.count : 1);
});

// Some traffic: five messages into a channel that holds three (two evicted), one redelivery.
for (let n = 1; n <= 5; n++) await layer.send('jobs', { type: 'job', n });
const lease = await layer.receiveLease('jobs');
await lease.nack(); // back to the head of the channel: the next take is a redelivery
const again = await layer.receiveLease('jobs');
await again.ack();

console.log(await registry.metrics());
await layer.close();
