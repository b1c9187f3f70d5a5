// Task file for test/hybrid/layer.test.ts, run by the workers of a pool on a hybrid bus:
// answer a request on this machine's bus, and send to a plain (Redis) channel.
import { workerLayer } from '../../dist/worker.js';

export default async function task({ op, channel, reply }) {
  if (op === 'relay') {
    const message = await workerLayer.receive(channel, { timeout: 20_000 });
    await workerLayer.send(reply, { relayed: message, hybrid: workerLayer.constructor.name });
    return 'ok';
  }
  throw new Error(`unknown op ${op}`);
}
