/**
 * Drives test/hybrid/machine.js: a child Node process (one "machine") with a hybrid layer and
 * worker threads attached to its bus, each a party that runs commands (test/hybrid/party.js).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./machine.js', import.meta.url));

/** Where a command runs: the machine's own layer, or one of its workers. */
export type Target = 'main' | number;

/** One machine process. */
export class Machine {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private stderr = '';
  /** The machine's bus id. */
  bus = '';

  private constructor(private readonly child: ChildProcess) {}

  /** Start a machine with `workers` worker threads and these hybrid options. */
  static async start(workers: number, options: Record<string, unknown>): Promise<Machine> {
    const child = fork(SCRIPT, [JSON.stringify({ workers, ...options })], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const machine = new Machine(child);
    child.stderr?.on('data', (d: Buffer) => {
      machine.stderr += d.toString();
    });
    const ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`machine exited (${code}) before it was ready: ${machine.stderr}`)));
      child.on('message', (m: { ready?: boolean; bus?: string; id?: number; ok?: boolean; result?: unknown; error?: string }) => {
        if (m.ready) {
          machine.bus = m.bus ?? '';
          resolve();
          return;
        }
        const waiter = machine.pending.get(m.id ?? -1);
        if (waiter === undefined) return;
        machine.pending.delete(m.id as number);
        if (m.ok) waiter.resolve(m.result);
        else waiter.reject(new Error(m.error));
      });
    });
    child.on('exit', (code, signal) => {
      for (const w of machine.pending.values()) w.reject(new Error(`machine exited (${code ?? signal}): ${machine.stderr}`));
      machine.pending.clear();
    });
    await ready;
    return machine;
  }

  /** Run one command on `target` and wait for its answer. */
  call<T = unknown>(target: Target, op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, target, op, ...args });
    });
  }

  /** Close the layers and end the process. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ op: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** The machine goes away at once: SIGKILL, no clean-up of any kind. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
  }
}
