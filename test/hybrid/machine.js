// One "machine" of the multi-machine hybrid test: a Node process with a hybrid layer and
// `workers` worker threads attached to its bus. Options (JSON) in argv[2]. Commands come over
// the IPC channel as { id, target: 'main' | <worker index>, op, ... } (see party.js); the
// answers go back the same way. 'close' closes everything and exits.
import { Worker } from 'node:worker_threads';
import { createLayer } from '../../dist/index.js';
import { answer } from './party.js';

const { workers: count, ...options } = JSON.parse(process.argv[2]);
const layer = await createLayer({ backend: 'hybrid', ...options });
const workers = [];
for (let i = 0; i < count; i++) {
  const worker = new Worker(new URL('./party-worker.js', import.meta.url), { workerData: { ringbus: layer.handle } });
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  worker.on('message', (r) => process.send(r));
  worker.on('error', (err) => process.send({ id: -1, ok: false, error: `worker ${i}: ${err.message}` }));
  workers.push(worker);
}

process.on('message', async (command) => {
  if (command.op === 'close') {
    await Promise.all(workers.map((w) => new Promise((resolve) => { w.once('exit', resolve); w.postMessage({ op: 'close' }); })));
    await layer.close();
    process.exit(0);
  }
  if (command.target === 'main') void answer(layer, command, (r) => process.send(r));
  else workers[command.target].postMessage(command);
});
process.send({ ready: true, bus: layer.bus });
