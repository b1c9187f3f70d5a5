// The smallest program: one thread, the in-memory reference layer.
// Run: node examples/hello-memory.mjs
import { createLayer, ChannelFull, TimeoutError } from 'ringbus';

const layer = await createLayer({ backend: 'memory', capacity: 2 });

await layer.send('chat.lobby', { type: 'chat.message', text: 'hello' });
console.log('received:', await layer.receive('chat.lobby'));

// Capacity is explicit: the third message does not fit.
await layer.send('jobs', { id: 1 });
await layer.send('jobs', { id: 2 });
try {
  await layer.send('jobs', { id: 3 });
} catch (err) {
  if (!(err instanceof ChannelFull)) throw err;
  console.log('back-pressure:', err.message);
}

// Groups: one send, every member gets its own copy.
const alice = await layer.newChannel();
const bob = await layer.newChannel();
await layer.groupAdd('room.1', alice);
await layer.groupAdd('room.1', bob);
await layer.groupSend('room.1', { type: 'chat.message', text: 'hi all' });
console.log('alice:', await layer.receive(alice), 'bob:', await layer.receive(bob));

// Waiting is bounded when you say so.
try {
  await layer.receive('empty', { timeout: 20 });
} catch (err) {
  if (!(err instanceof TimeoutError)) throw err;
  console.log('nothing arrived:', err.message);
}

console.log('stats:', layer.stats());
await layer.close();
