// Held pins under reclamation: a producer or a consumer of rotating channels.
// producer: for each round r, sends `perRound` messages { p, seq } to `h.<id>.<r % slots>`
//   through the fast path (cached channel, held after its first use), and now and then
//   sleeps longer than the holds' tick so its holds go cold and its channels idle.
// consumer: for each round, takes `perRound` messages from every producer's channel of that
//   round, checking that each producer's sequence numbers arrive one by one, in order.
// Both report the most holds they had at once (internal: the layer's `holds`).
import { parentPort, workerData } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { attachLayer } from '../../dist/index.js';

const { handle, role, id, producers, rounds, perRound, slots } = workerData;
const layer = attachLayer(handle);
let maxHolds = 0;
const errors = [];
parentPort.postMessage({ ready: true });

if (role === 'producer') {
  let seq = 0;
  for (let r = 0; r < rounds; r++) {
    const ch = `h.${id}.${r % slots}`;
    for (let i = 0; i < perRound; i++) await layer.send(ch, { p: id, seq: seq++ });
    maxHolds = Math.max(maxHolds, layer.holds.size);
    if (r % 10 === 9) await sleep(50 + ((r * 37) % 200)); // cold holds, idle channels
  }
  parentPort.postMessage({ sent: seq, maxHolds, errors });
} else {
  const next = new Array(producers).fill(0);
  let received = 0;
  for (let r = 0; r < rounds; r++) {
    for (let p = 0; p < producers; p++) {
      const ch = `h.${p}.${r % slots}`;
      for (let i = 0; i < perRound; i++) {
        const m = await layer.receive(ch, { timeout: 120_000 });
        if (m.p !== p || m.seq !== next[p]) errors.push(`${ch}: got ${JSON.stringify(m)}, expected p ${p} seq ${next[p]}`);
        next[p] = m.seq + 1;
        received++;
      }
      maxHolds = Math.max(maxHolds, layer.holds.size);
    }
  }
  parentPort.postMessage({ received, maxHolds, errors: errors.slice(0, 10) });
}
await layer.close();
