// One machine of a hybrid deployment: a bus whose worker threads talk through shared memory,
// joined to the other machines (and any Django process) through Redis.
// Run one per machine, with the names of all of them (see README.md):
//   REDIS_URL=redis://127.0.0.1:6379 node examples/hybrid/machine.mjs a a,b
//   REDIS_URL=redis://127.0.0.1:6379 node examples/hybrid/machine.mjs b a,b
import { Worker, isMainThread, workerData } from 'node:worker_threads';
// ringbus' helper is renamed here only because this file also imports node's `workerData`.
import { attachLayer, createLayer, workerData as busWorkerData } from 'ringbus';

const WORKERS = 2;

if (isMainThread) {
  const [name = 'a', all = 'a,b'] = process.argv.slice(2);
  const machines = all.split(',');
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  // 'local.*' channels never leave this machine; everything else may cross Redis.
  const layer = await createLayer({ backend: 'hybrid', hosts: [url], localChannels: ['local.*'] });
  const workers = Array.from({ length: WORKERS }, (_, id) =>
    new Worker(new URL(import.meta.url), { workerData: busWorkerData(layer, { machine: name, id, room: WORKERS * machines.length }) }),
  );
  // Listen for the exits now: a worker that is done may exit before we get to wait for it.
  const exited = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
  // Every worker has joined the room (through shared memory: a local channel) ...
  for (let i = 0; i < WORKERS; i++) await layer.receive('local.joined', { timeout: 30_000 });
  // ... then the machines tell each other so (through Redis: plain channels), so nobody speaks too early.
  for (const other of machines) if (other !== name) await layer.send(`room.ready.${other}`, { from: name });
  for (let i = 1; i < machines.length; i++) await layer.receive(`room.ready.${name}`, { timeout: 30_000 });
  for (let i = 0; i < WORKERS; i++) await layer.send('local.go', { go: true });

  for (let i = 0; i < WORKERS; i++) {
    const { id, heard } = await layer.receive('local.done', { timeout: 30_000 });
    console.log(`machine ${name}, worker ${id} heard: ${heard.sort().join(', ')}`);
  }
  await Promise.all(exited);
  await layer.close();
} else {
  const layer = attachLayer(); // the bus of this machine, from workerData
  const { machine, id, room } = workerData;
  const me = await layer.newChannel(); // named after this machine's bus: its messages stay here when they can
  await layer.groupAdd('room', me); // membership in Redis, as channels_redis keeps it (Django can join too)
  await layer.send('local.joined', { id });
  await layer.receive('local.go');
  // One groupSend: the neighbour on this machine gets it through shared memory, the other
  // machine through Redis (one stored message for its bus, routed to its members there).
  await layer.groupSend('room', { type: 'hello', from: `${machine}/${id}` });
  const heard = [];
  for (let i = 0; i < room; i++) heard.push((await layer.receive(me, { timeout: 30_000 })).from);
  await layer.groupDiscard('room', me);
  await layer.send('local.done', { id, heard });
  await layer.close();
}
