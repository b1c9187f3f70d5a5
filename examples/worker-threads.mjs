// Worker threads on one bus: the main thread gives each worker `workerData(layer, fields)` (the
// bus handle next to the worker's own fields), every worker calls `attachLayer()` and is on the
// same shared memory, and messages cross threads without postMessage.
// (`workerData: layer` itself would fail: a layer cannot be cloned; its `handle` can.)
// Run: node examples/worker-threads.mjs
import { Worker, isMainThread, workerData } from 'node:worker_threads';
// ringbus' helper is renamed here only because this one file also imports node's `workerData`.
import { attachLayer, createLayer, workerData as busWorkerData } from 'ringbus';

const WORKERS = 2;
const JOBS = 10;

if (isMainThread) {
  const layer = await createLayer({ capacity: 1000 });
  const results = await layer.newChannel('results'); // only this thread may receive on it

  const workers = Array.from({ length: WORKERS }, (_, id) =>
    new Worker(new URL(import.meta.url), { workerData: busWorkerData(layer, { id, results }) }),
  );
  // Listen for the exits now: a worker that is done may exit before we get to wait for it.
  const exited = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
  // Wait until every worker has joined the 'workers' group, so that none misses the stop.
  for (let i = 0; i < WORKERS; i++) await layer.receive(results, { timeout: 10_000 });
  for (let n = 1; n <= JOBS; n++) await layer.send('jobs.square', { type: 'job', n });

  let total = 0;
  for (let i = 0; i < JOBS; i++) {
    const { worker, n, square } = await layer.receive(results, { timeout: 10_000 });
    console.log(`worker ${worker}: ${n}^2 = ${square}`);
    total += square;
  }
  console.log('sum of squares:', total); // 385

  await layer.groupSend('workers', { type: 'stop' }); // every worker joined this group
  await Promise.all(exited);
  await layer.close();
} else {
  const bus = attachLayer(); // the bus in this thread's workerData
  const { id, results } = workerData; // the fields given next to it
  const control = await bus.newChannel('control');
  await bus.groupAdd('workers', control);
  await bus.send(results, { type: 'ready', worker: id });

  // Serve jobs until a stop arrives on this worker's control channel.
  const stop = new AbortController();
  bus.receive(control).then(() => stop.abort());
  for await (const job of bus.listen('jobs.square', { signal: stop.signal })) {
    await bus.send(results, { worker: id, n: job.n, square: job.n * job.n });
  }
  await bus.close();
}
