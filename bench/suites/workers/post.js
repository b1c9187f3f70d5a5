// The other side of the postMessage and BroadcastChannel peers: echo each message back (round
// trip), or count the messages that arrive and report when a batch is complete (one way: the
// receiver really receives, and reads each message, before the batch counts as delivered).

import { BroadcastChannel, parentPort, workerData } from 'node:worker_threads';

const { mode } = workerData;

if (mode === 'echo') {
  parentPort.on('message', (m) => {
    if (m && m.stop) process.exit(0);
    parentPort.postMessage(m);
  });
} else if (mode === 'count' || mode === 'broadcast') {
  // The batch size arrives on parentPort; data arrives on parentPort ('count') or on the
  // broadcast channel ('broadcast'), whose order relative to parentPort is not defined, so
  // either may come first.
  let target = 0;
  let count = 0;
  let check = 0;
  const settle = () => {
    if (target > 0 && count >= target) {
      count -= target;
      target = 0;
      parentPort.postMessage({ done: true, check });
    }
  };
  const onData = (m) => {
    check = (check + m.n) | 0;
    count++;
    settle();
  };
  let channel = null;
  if (mode === 'broadcast') {
    channel = new BroadcastChannel(workerData.channel);
    channel.onmessage = (event) => onData(event.data);
  }
  parentPort.on('message', (m) => {
    if (m && m.stop) {
      channel?.close();
      process.exit(0);
    }
    if (m && m.expect !== undefined) {
      target = m.expect;
      settle();
    } else {
      onData(m);
    }
  });
} else {
  throw new Error(`unknown post mode ${JSON.stringify(mode)}`);
}
parentPort.postMessage({ ready: true });
