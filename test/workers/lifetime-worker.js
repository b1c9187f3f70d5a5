// Worker side of test/workers/lifetime.test.ts: attaches to the bus of workerData.handle and
// plays workerData.role, reporting what happened to the main thread.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';

const { handle, role } = workerData;
const report = (value) => parentPort.postMessage(value);
const codeOf = (err) => ({ code: err?.code ?? null, name: err?.name, message: String(err?.message ?? err) });

async function settle(promise) {
  try {
    return { ok: true, value: await promise };
  } catch (err) {
    return { ok: false, ...codeOf(err) };
  }
}

if (role === 'waiters') {
  // Every kind of wait at once: receive, receiveLease (at-least-once buses), a send that waits
  // for room, a listen loop. Then, after the bus is shut down, a later call and an attach.
  const layer = attachLayer(handle);
  const leases = layer.extensions.includes('leases');
  const waits = [
    settle(layer.receive('life.idle')),
    settle(layer.receive('life.idle.timeout', { timeout: 2 ** 31 + 5 })),
    leases ? settle(layer.receiveLease('life.lease')) : Promise.resolve({ ok: false, code: 'skipped' }),
    settle((async () => {
      for await (const m of layer.listen('life.listen')) void m;
    })()),
  ];
  // 'life.full' has capacity 1 and full: 'wait' (channelFull): the second send waits.
  await layer.send('life.full', { n: 1 });
  waits.push(settle(layer.send('life.full', { n: 2 })));
  report({ ready: true });
  const results = await Promise.all(waits);
  const later = await settle(layer.send('life.other', { n: 3 }));
  let attach;
  try {
    attachLayer(handle);
    attach = { ok: true };
  } catch (err) {
    attach = { ok: false, ...codeOf(err) };
  }
  report({ results, later, attach, closed: layer.closed });
  // Nothing else to do: the thread ends by itself (its waits no longer hold it).
} else if (role === 'attach') {
  try {
    const layer = attachLayer(handle);
    report({ ok: true, instances: layer.memoryStats().instances });
  } catch (err) {
    report({ ok: false, ...codeOf(err) });
  }
} else if (role === 'leak') {
  // Attach some layers and never close them; the thread then ends (or exits, or throws).
  const layers = [];
  for (let i = 0; i < workerData.count; i++) layers.push(attachLayer(handle));
  if (workerData.lease) await layers[0].receiveLease('life.leaked', { timeout: 5000 });
  report({ attached: layers[0].memoryStats().instances });
  if (workerData.end === 'exit') process.exit(3);
  if (workerData.end === 'throw') setTimeout(() => { throw new Error('worker crashed on purpose'); }, 1);
  if (workerData.end === 'stay') setInterval(() => {}, 1000); // until terminated
} else if (role === 'collected-exit') {
  // Attach layers and drop them, collect them, and exit before their finalizers can run
  // (they are queued as tasks and a thread that exits runs no more tasks): the exit hook must
  // still free their slots. Under load a plain GC in that window did it by chance.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  for (let i = 0; i < workerData.count; i++) attachLayer(handle);
  await new Promise((r) => setTimeout(r, 1)); // a new job: the WeakRefs no longer keep them
  gc();
  report({ collected: true });
  process.exit(0);
} else if (role === 'collect') {
  // Attach layers, drop them, collect them: their slots come back while the thread lives.
  setFlagsFromString('--expose-gc'); // (a worker's execArgv may not carry it)
  const gc = runInNewContext('gc');
  const keeper = attachLayer(handle);
  const before = keeper.memoryStats().instances;
  for (let i = 0; i < workerData.count; i++) attachLayer(handle);
  const peak = keeper.memoryStats().instances;
  let after = peak;
  for (let round = 0; round < 100 && after > before; round++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
    after = keeper.memoryStats().instances;
  }
  await keeper.close();
  report({ before, peak, after });
}

if (role === 'stall') {
  // A live thread that stops running (sync work) for longer than livenessTimeout while the
  // bus's slots run short: its slot is reclaimed; afterwards it finds its layer closed.
  const layer = attachLayer(handle);
  const lease = await layer.receiveLease('stall.jobs', { timeout: 5000 });
  const pending = settle(layer.receive('stall.rx', { timeout: 60_000 }));
  report({ ready: true });
  await new Promise((r) => setTimeout(r, 20));
  const until = Date.now() + workerData.stallMs;
  while (Date.now() < until) {
    // busy: no event loop, no ringbus call
  }
  const receive = await pending;
  const ack = await lease.ack();
  const later = await settle(layer.send('stall.other', { n: 1 }));
  report({ receive, ack, later, closed: layer.closed });
}

if (role === 'churn') {
  // Attach, use and close layers in a loop while another thread sweeps the instance table:
  // a live instance is never reclaimed, and every message arrives once, in order.
  let failures = 0;
  let received = 0;
  for (let i = 0; i < workerData.rounds; i++) {
    let layer;
    const ch = `churn.${workerData.id}`;
    try {
      layer = attachLayer(handle);
      for (let k = 0; k < 3; k++) await layer.send(ch, { i, k });
      for (let k = 0; k < 3; k++) {
        const m = await layer.receive(ch, { timeout: 30_000 });
        if (m.i !== i || m.k !== k) failures++;
        received++;
      }
      await new Promise((r) => setImmediate(r));
    } catch (err) {
      failures++;
      if (failures < 5) console.error('churn', codeOf(err));
    }
    await layer?.close();
  }
  report({ failures, received });
}
