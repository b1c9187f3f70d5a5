// A worker of leases.test.ts, attached to the bus of `workerData.handle`:
//  - 'consumer': takes leases on `channel` until the end marker; nacks a message the first
//    time it sees it with probability `nackRate` (so it comes back), else acks it. Records in
//    shared arrays: acked[s] (ack resolved true), first[s] (receipts with deliveries == 1),
//    and the highest delivery count seen for s (maxSeen[s]).
//  - 'holder': takes one lease and reports it, then stays alive holding it until terminated
//    or told { close: true } (then closes its layer without settling).
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';

const layer = attachLayer(workerData.handle);
const { role, channel } = workerData;

if (role === 'consumer') {
  const acked = new Int32Array(workerData.acked);
  const first = new Int32Array(workerData.first);
  const maxSeen = new Int32Array(workerData.maxSeen);
  let nacks = 0;
  for await (const { message, deliveries, ack, nack } of layer.listen(channel, { lease: true })) {
    if (message.end) {
      await ack();
      break;
    }
    const s = message.s;
    if (deliveries === 1) Atomics.add(first, s, 1);
    for (let m = Atomics.load(maxSeen, s); deliveries > m; m = Atomics.load(maxSeen, s)) {
      if (Atomics.compareExchange(maxSeen, s, m, deliveries) === m) break;
    }
    if (deliveries === 1 && Math.random() < workerData.nackRate) {
      nacks++;
      await nack();
    } else if (await ack()) Atomics.add(acked, s, 1);
  }
  await layer.close();
  parentPort.postMessage({ nacks });
} else if (role === 'holder') {
  const lease = await layer.receiveLease(channel);
  parentPort.postMessage({ message: lease.message, deliveries: lease.deliveries });
  parentPort.on('message', async (m) => {
    if (m.close) {
      await layer.close();
      parentPort.postMessage({ closed: true });
    }
  });
} else throw new Error(`unknown role ${role}`);
