// Task file of leases.test.ts for a ringbus pool: take a lease on `channel`, tell the test
// (on `reply`) which thread holds it, then die without settling it (process.exit in a worker
// ends that worker thread only).
import { threadId } from 'node:worker_threads';
import { workerLayer } from '../../dist/worker.js';

export default async function task({ channel, reply }) {
  const lease = await workerLayer.receiveLease(channel, { timeout: 10_000 });
  await workerLayer.send(reply, { threadId, message: lease.message, deliveries: lease.deliveries });
  await new Promise((resolve) => setTimeout(resolve, 50));
  process.exit(3);
}
