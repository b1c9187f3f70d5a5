// Task file for test/workers/pool.test.ts, run by a ringbus pool's workers.
import { threadId } from 'node:worker_threads';
import { workerData, workerLayer } from '../../dist/worker.js';

let echoing = false;

export default async function task({ op, channel, reply }) {
  switch (op) {
    case 'relay': {
      // Receive one message from the bus and answer on another channel.
      const message = await workerLayer.receive(channel, { timeout: 10_000 });
      await workerLayer.send(reply, { type: 'relayed', got: message, threadId });
      return threadId;
    }
    case 'echo': {
      // Start a loop that outlives this task: it needs the worker's event loop to keep
      // running between tasks (the pool's atomics: 'disabled').
      if (!echoing) {
        echoing = true;
        (async () => {
          for await (const m of workerLayer.listen(channel)) await workerLayer.send(reply, { echo: m });
        })().catch(() => {});
      }
      return 'started';
    }
    case 'data':
      return workerData;
    default:
      throw new Error(`unknown op ${op}`);
  }
}
