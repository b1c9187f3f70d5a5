// Group churn worker. Role 'sender': groupSend `count` messages, stamping each with the
// shared logical clock before and after the call. Role 'churner': add and discard its
// channels in a loop until the senders are done, stamping each step. The clock is an
// Atomics counter in a SharedArrayBuffer: [0] clock, [1] senders still running.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';

const { handle, role, id, group, count, channels, clock: clockBuffer } = workerData;
const layer = attachLayer(handle);
const clock = new Int32Array(clockBuffer);
const tick = () => Atomics.add(clock, 0, 1);

if (role === 'sender') {
  const stamps = new Int32Array(count * 2);
  // Padding of 40..220 bytes puts messages in the same size classes as the member arrays, so
  // that a freed member array is soon reused for a message: a groupSend that acted on a
  // snapshot it did not validate would then act on garbage, and miss or add members.
  const pads = Array.from({ length: 16 }, (_, i) => 'x'.repeat(40 + i * 12));
  for (let seq = 0; seq < count; seq++) {
    stamps[seq * 2] = tick();
    await layer.groupSend(group, { sender: id, seq, pad: pads[seq % 16] });
    stamps[seq * 2 + 1] = tick();
  }
  Atomics.sub(clock, 1, 1);
  await layer.close();
  parentPort.postMessage({ stamps }, [stamps.buffer]);
} else {
  // Per channel, a list of [addStart, in, out, gone] stamps.
  const intervals = Object.fromEntries(channels.map((c) => [c, []]));
  let rounds = 0;
  while (Atomics.load(clock, 1) > 0) {
    for (const channel of channels) {
      const addStart = tick();
      await layer.groupAdd(group, channel);
      const inAt = tick();
      if (rounds % 3 === 0) await new Promise((r) => setImmediate(r));
      const out = tick();
      await layer.groupDiscard(group, channel);
      const gone = tick();
      intervals[channel].push([addStart, inAt, out, gone]);
    }
    rounds++;
  }
  await layer.close();
  parentPort.postMessage({ intervals, rounds });
}
