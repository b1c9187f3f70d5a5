// A worker of the worker-death test (worker-death.test.ts): attaches to the bus and either
// receives from `work` (role 'receiver') or sends to it (role 'sender'), recording what it
// did in shared arrays indexed by sequence number, so that the test can tell what a worker
// killed at a random moment had done:
//   got[s]      times s was received (plain receive or lease)
//   first[s]    receipts of s that came with deliveries == 1 (a first delivery)
//   acking[s]   1 once some worker started to ack s (set before the call)
//   acked[s]    times ack() of s resolved true
//   sent[s]     1 once send(s) resolved (role 'sender')
//   progress[0] messages this worker received or sent so far (the test kills mid-traffic)
// Receivers "handle" each message for a moment (an event-loop turn, or `holdMs`) so that a
// kill can land between the receive and the ack. A receiver stops at the end marker and reports.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';

const { handle, role, lease, count } = workerData;
const got = new Int32Array(workerData.got);
const first = new Int32Array(workerData.first);
const acking = new Int32Array(workerData.acking);
const acked = new Int32Array(workerData.acked);
const sent = new Int32Array(workerData.sent);
const progress = new Int32Array(workerData.progress);
const layer = attachLayer(handle);
const turn = workerData.holdMs
  ? () => new Promise((resolve) => setTimeout(resolve, workerData.holdMs))
  : () => new Promise((resolve) => setImmediate(resolve));

parentPort.postMessage({ ready: true });
if (role === 'sender') {
  for (let s = 0; s < count; s++) {
    await layer.send('work', { s });
    Atomics.store(sent, s, 1);
    Atomics.add(progress, 0, 1);
  }
  parentPort.postMessage({ done: true });
  await new Promise(() => {}); // stays alive until terminated
} else {
  let received = 0;
  for (;;) {
    if (lease) {
      const { message, deliveries, ack } = await layer.receiveLease('work');
      if (message.end) {
        await ack();
        break;
      }
      received++;
      Atomics.add(got, message.s, 1);
      Atomics.add(progress, 0, 1);
      if (deliveries === 1) Atomics.add(first, message.s, 1);
      await turn();
      Atomics.store(acking, message.s, 1);
      if (await ack()) Atomics.add(acked, message.s, 1);
    } else {
      const message = await layer.receive('work');
      if (message.end) break;
      received++;
      Atomics.add(got, message.s, 1);
      Atomics.add(progress, 0, 1);
      await turn();
    }
  }
  await layer.close();
  parentPort.postMessage({ received });
}
