/**
 * Real redis-server processes for the Redis tests: each on a free loopback port, without
 * persistence, started and stopped by the test that needs it.
 *
 * When `redis-server` is not installed the tests skip with one loud line saying how to
 * enable them, unless `RINGBUS_REQUIRE_REDIS=1` (CI), where its absence is a failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { findPython } from '../../bench/python.js';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, createConnection } from 'node:net';

/** How a test server runs: plain (default), TLS only, or as a Sentinel. */
export interface ServerMode {
  /** PEM files: serve TLS only, on the server's port. */
  tls?: { cert: string; key: string };
  /** Run as a Sentinel with this config (written to `file`, which Sentinel rewrites). */
  sentinelConfig?: { file: string; text: string };
}

const INSTALL_HINT = 'apt-get install redis-server python3-channels-redis';

/** True when `redis-server` can be run. */
export const haveRedis: boolean = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * The Python of the interop tests: RINGBUS_PYTHON, else the first python3/python on PATH that
 * imports channels_redis and cryptography (bench/python.js says which, and why others were passed over).
 */
export const python = findPython({ modules: ['channels_redis', 'cryptography'] });

/** True when a Python that can import channels_redis was found. */
export const havePythonChannelsRedis: boolean = python.path !== null;

/** The interpreter to run (only meaningful when {@link havePythonChannelsRedis}). */
export const PYTHON: string = python.path ?? 'python3';

let announced = false;
let pythonAnnounced = false;

/** Servers still running; killed if the test process exits without stopping them (a crash). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * True for the first test file of this vitest run to ask (files run in child processes of
 * one vitest process, whose pid names a marker file), so the skip line is printed once.
 */
function firstInThisRun(): boolean {
  try {
    writeFileSync(join(tmpdir(), `ringbus-redis-skip-notice-${process.ppid}`), '', { flag: 'wx' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the Redis tests of this file run. Prints the loud skip line once per file, and
 * throws when CI requires Redis and it is missing.
 */
export function redisTestsEnabled(needPython = false): boolean {
  const missing = [!haveRedis && 'redis-server', needPython && !havePythonChannelsRedis && 'python3-channels-redis'].filter(Boolean);
  if (needPython && havePythonChannelsRedis && !pythonAnnounced) {
    pythonAnnounced = true;
    console.info(`redis interop tests: ${python.describe()}`);
  }
  if (missing.length === 0) return true;
  if (process.env.RINGBUS_REQUIRE_REDIS === '1') {
    throw new Error(
      `RINGBUS_REQUIRE_REDIS=1 but ${missing.join(' and ')} is missing: ${INSTALL_HINT}` +
        (needPython && !havePythonChannelsRedis ? ` (${python.describe()})` : ''),
    );
  }
  if (!announced && firstInThisRun()) {
    console.warn(`\n*** SKIPPING Redis tests: ${missing.join(' and ')} not found. Enable them with: ${INSTALL_HINT} ***\n`);
  }
  announced = true;
  return false;
}

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A running redis-server. */
export class RedisProcess {
  private child: ChildProcess | null = null;
  private constructor(
    /** Its loopback port. */
    readonly port: number,
    private readonly extraArgs: string[],
    private readonly mode: ServerMode,
  ) {}

  /** `redis://127.0.0.1:<port>` */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * Start a server on a free port. `extraArgs`: more redis-server options (e.g.
   * `--requirepass x`). `mode`: TLS only on that port (with these PEM files), or a Sentinel
   * whose config file is `mode.sentinelConfig` (the port line is added).
   */
  static async start(extraArgs: string[] = [], mode: ServerMode = {}): Promise<RedisProcess> {
    for (let attempt = 0; ; attempt++) {
      const server = new RedisProcess(await freePort(), extraArgs, mode);
      try {
        await server.restart();
        return server;
      } catch (err) {
        if (attempt >= 3) throw err; // the port was taken between asking and binding
      }
    }
  }

  /** (Re)start on the same port; resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.child !== null) throw new Error('redis-server is already running');
    const port = String(this.port);
    const args = ['--port', port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];
    if (this.mode.tls) {
      const { cert, key } = this.mode.tls;
      args.push('--port', '0', '--tls-port', port, '--tls-cert-file', cert, '--tls-key-file', key, '--tls-auth-clients', 'no');
    }
    if (this.mode.sentinelConfig) {
      writeFileSync(this.mode.sentinelConfig.file, `port ${port}\nbind 127.0.0.1\n${this.mode.sentinelConfig.text}\n`);
      args.splice(0, args.length, this.mode.sentinelConfig.file, '--sentinel');
    }
    const child = spawn('redis-server', [...args, ...this.extraArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    running.add(child);
    let exited = false;
    child.once('exit', () => {
      running.delete(child);
      exited = true;
      if (this.child === child) this.child = null;
    });
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(this.port))) {
      if (exited) throw new Error(`redis-server on port ${this.port} exited at start`);
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`redis-server on port ${this.port} did not start within 10 s`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stop the server: SIGTERM (it exits at once without persistence), then wait for the exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    this.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}
