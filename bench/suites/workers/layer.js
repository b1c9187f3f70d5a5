// The worker side of the ringbus shared-layer cases: attach to the bus through the public API
// (`attachLayer(handle)`) and echo, consume (receive, tryReceive or receiveMany), produce or
// drain a group's members. Consumers
// count received messages in a shared counter (COUNT), and the one whose receive completes a
// batch (COUNT reaches TARGET) tells the main thread, so a batch is timed until the last
// message has really been received and decoded.

import { parentPort, workerData } from 'node:worker_threads';
import * as ringbus from '../../../dist/index.js';
import { makeMessage } from '../../messages.js';

const COUNT = 0;
const TARGET = 1;

const { mode, handle, channel, reply, kind } = workerData;
const counter = workerData.counter ? new Int32Array(workerData.counter) : null;
const layer = await ringbus.attachLayer(handle);

const closed = (err) => err && err.code === 'ERR_RINGBUS_LAYER_CLOSED';

/** Count `n` messages received; the receive that reaches the target tells the main thread. */
function received(n = 1) {
  const before = Atomics.add(counter, COUNT, n);
  const target = Atomics.load(counter, TARGET);
  if (before < target && before + n >= target) parentPort.postMessage({ done: true });
}

async function loop(body) {
  try {
    for (;;) await body();
  } catch (err) {
    if (!closed(err)) throw err;
  }
}

parentPort.on('message', async (m) => {
  if (m.stop) {
    await layer.close();
    parentPort.close();
  } else if (m.produce !== undefined) {
    for (let i = 0; i < m.produce; i++) await layer.send(channel, makeMessage(kind, m.base + i));
  }
});
parentPort.postMessage({ ready: true });

if (mode === 'echo') {
  await loop(async () => {
    const message = await layer.receive(channel);
    await layer.send(reply, message);
  });
} else if (mode === 'consume') {
  await loop(async () => {
    await layer.receive(channel);
    received();
  });
} else if (mode === 'consume-try') {
  // Drain with tryReceive; wait (receive) only when the channel is empty, as listen does.
  await loop(async () => {
    if (layer.tryReceive(channel) === undefined) await layer.receive(channel);
    received();
  });
} else if (mode === 'consume-borrowed') {
  // Borrow each message (its payload stays in the shared memory), read it, give it back.
  await loop(async () => {
    const b = await layer.receiveBorrowed(channel);
    if (typeof b.message.n !== 'number') throw new Error('a message without its sequence number');
    b.release();
    received();
  });
} else if (mode === 'consume-many') {
  await loop(async () => {
    received((await layer.receiveMany(channel, { max: workerData.max })).length);
  });
} else if (mode === 'fan') {
  // Drain every member of the group, one receive per member per groupSend (counted once per
  // pass: the shared counter's cache line is the bench's cost, not the bus's).
  const { members } = workerData;
  await loop(async () => {
    for (const member of members) await layer.receive(member);
    received(members.length);
  });
} else if (mode === 'fan-try') {
  // The same with tryReceive, waiting (receive) only on a member that is still empty.
  const { members } = workerData;
  await loop(async () => {
    for (const member of members) if (layer.tryReceive(member) === undefined) await layer.receive(member);
    received(members.length);
  });
} else if (mode !== 'produce') {
  throw new Error(`unknown layer worker mode ${JSON.stringify(mode)}`);
}
