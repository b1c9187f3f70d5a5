// Worker side of the cross-thread conformance configuration: attaches to the bus of the
// handle in workerData and runs every ChannelLayer method the main thread asks for.
// Requests: { id, method, args, abortable }; { abort: id } aborts a pending call;
// { id, method: 'stats', sync: true } answers on the sync port and wakes the waiting caller.
import { parentPort, workerData } from 'node:worker_threads';
import { attachLayer } from '../../dist/index.js';

const layer = attachLayer(workerData.handle);
const flag = new Int32Array(workerData.flag);
const syncPort = workerData.syncPort;
const controllers = new Map();

function serializeError(err) {
  const props = {};
  for (const key of Object.keys(err)) {
    const value = err[key];
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) props[key] = value;
  }
  return { name: err?.name ?? 'Error', message: String(err?.message ?? err), stack: err?.stack, props };
}

parentPort.on('message', async (msg) => {
  if (msg.abort !== undefined) {
    controllers.get(msg.abort)?.abort(msg.reason);
    return;
  }
  const { id, method, args } = msg;
  if (msg.sync) {
    let reply;
    try {
      reply = { ok: true, value: layer[method](...args) };
    } catch (err) {
      reply = { ok: false, error: serializeError(err) };
    }
    syncPort.postMessage(reply);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    return;
  }
  if (msg.abortable) {
    const controller = new AbortController();
    controllers.set(id, controller);
    const at = msg.at ?? 1;
    const options = { ...(args[at] ?? {}), signal: controller.signal };
    if (msg.aborted) controller.abort(msg.reason);
    args[at] = options;
  }
  try {
    const value = await layer[method](...args);
    parentPort.postMessage({ id, ok: true, value });
  } catch (err) {
    parentPort.postMessage({ id, ok: false, error: serializeError(err) });
  } finally {
    controllers.delete(id);
  }
});
parentPort.postMessage({ ready: true, clientId: layer.clientId });
