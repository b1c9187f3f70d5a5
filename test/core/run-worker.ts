/**
 * A stress test's worker: started on `url` with `workerData`; `ready` settles when it posts
 * `{ ready: true }` (it is attached and waiting for the go), `result` with the next message it
 * posts (its report), and rejects if it fails or exits before reporting.
 */
import { Worker } from 'node:worker_threads';

export function runWorker<T>(url: URL, workerData: unknown): { worker: Worker; result: Promise<T>; ready: Promise<void> } {
  const worker = new Worker(url, { workerData });
  const file = url.pathname.split('/').pop();
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const result = new Promise<T>((resolve, reject) => {
    worker.on('message', (m: { ready?: boolean } & T) => (m.ready ? onReady() : resolve(m)));
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`${file} exited with code ${code} before reporting`)));
  });
  return { worker, result, ready };
}
