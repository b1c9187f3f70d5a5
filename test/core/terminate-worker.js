// Worker for terminate.test.ts. Role 'victim': a hot loop that receives from `work` (marking
// each sequence number in the shared `seen` map right after the receive) and sends on `out`;
// it is terminated at a random moment. Role 'survivor': receives from `work` until the end
// marker, marking what it gets, then reports.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';

const { handle, role, seen: seenBuffer, mark } = workerData;
const layer = attachLayer(handle);
const seen = new Uint8Array(seenBuffer);

if (role === 'victim') {
  await layer.groupAdd('terminate.group', 'victim.inbox');
  parentPort.postMessage({ ready: true });
  // A second, CPU-hot loop, so that the kill also lands inside the core's functions: a send and
  // a receive on a private channel, and group membership churn (copy-on-write CASes).
  (async () => {
    for (let i = 0; ; i++) {
      await layer.send('victim.hot', { i });
      await layer.receive('victim.hot');
      await layer.groupAdd('terminate.group', `victim.churn.${i % 4}`);
      await layer.groupDiscard('terminate.group', `victim.churn.${(i + 2) % 4}`);
    }
  })();
  for (let i = 0; ; i++) {
    const m = await layer.receive('work');
    if (m.end) break;
    Atomics.add(seen, m.s, mark);
    try {
      await layer.send('out', { from: 'victim', i });
    } catch (err) {
      if (err.code !== 'ERR_RINGBUS_CHANNEL_FULL') throw err;
    }
  }
} else {
  parentPort.postMessage({ ready: true });
  let got = 0;
  for (;;) {
    const m = await layer.receive('work');
    if (m.end) break;
    Atomics.add(seen, m.s, mark);
    got++;
  }
  await layer.close();
  parentPort.postMessage({ got });
}
