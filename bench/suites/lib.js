// Small helpers the suites share: starting and stopping worker threads.

import { Worker } from 'node:worker_threads';
import { createLayer } from '../../dist/index.js';

/**
 * `{ skipped: why }` when a layer with `options` cannot be created because its backend is not
 * available (yet), else null: how a suite says "skipped" instead of failing. Other errors throw.
 */
export async function backendUnavailable(options = {}) {
  try {
    const probe = await createLayer(options);
    await probe.close();
    return null;
  } catch (err) {
    if (err && err.code === 'ERR_RINGBUS_BACKEND_UNAVAILABLE') return { skipped: err.message };
    throw err;
  }
}

/**
 * Start the worker script `name` (a file in bench/suites/workers/) with `workerData`, and
 * resolve once it has posted `{ ready: true }` (so that no case times a thread still loading).
 * Rejects if the worker fails before that.
 */
export function startWorker(name, workerData, options = {}) {
  const worker = new Worker(new URL(`./workers/${name}`, import.meta.url), { workerData, ...options });
  // A case may wait for several replies of one worker at once (one listener set each, all
  // removed when they settle): more than Node's default of 10 is expected, not a leak.
  worker.setMaxListeners(64);
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m && m.ready) {
        cleanup();
        resolve(worker);
      }
    };
    const onError = (err) => {
      cleanup();
      reject(err);
    };
    const onExit = (code) => {
      cleanup();
      reject(new Error(`worker ${name} exited with code ${code} before it was ready`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/**
 * Ask `worker` to stop (by `ask()`, e.g. posting a message or storing a flag it watches) and
 * wait for it to exit; terminate it if it has not exited after `graceMs`.
 */
export async function stopWorker(worker, ask, graceMs = 2000) {
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  try {
    ask?.();
  } catch {
    // the worker may already be gone; terminate below settles it
  }
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
  });
  const how = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (how === 'late') await worker.terminate();
}

/** The next message `worker` posts (any message, or the first for which `accept` is true). */
export function nextMessage(worker, accept = () => true) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (!accept(m)) return;
      cleanup();
      resolve(m);
    };
    const onError = (err) => {
      cleanup();
      reject(err);
    };
    const onExit = (code) => {
      cleanup();
      reject(new Error(`worker exited with code ${code}`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
