/**
 * Real redis-server processes for the Redis tests: each on a free loopback port, without
 * persistence, started and stopped by the test that needs it. Most files take one per
 * describe block with {@link useRedisServer}, which also makes and closes their layers.
 *
 * When `redis-server` is not installed the tests skip with one loud line saying how to
 * enable them, unless `RINGBUS_REQUIRE_REDIS=1` (CI), where its absence is a failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { Redis } from 'ioredis';
import { createLayer, type ChannelLayer } from '../../dist/index.js';
import { findPython } from '../../bench/python.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function canConnect(port: number): Promise<boolean> {
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

let prefixSerial = 0;

/**
 * A key prefix no other layer of this test process uses: `<base><pid>x<n>:`. The pid keeps
 * two test processes on one server apart, `n` two layers (or two tests) of one file.
 */
export function uniquePrefix(base: string): string {
  return `${base}${process.pid}x${prefixSerial++}:`;
}

/** Options for createLayer, as the tests pass them (checked by createLayer itself). */
type LayerOptions = Record<string, unknown>;

/** What {@link useRedisServer} gives the describe block that called it. */
export interface RedisServerFixture {
  /**
   * The running server: its `port` and `url`, and `stop()` / `restart()` for outage tests
   * (the afterAll stop is harmless on a stopped server). Throws outside the block's tests.
   */
  readonly server: RedisProcess;
  /** `server.url`. */
  readonly url: string;
  /**
   * One raw ioredis client on the server, to look at the keys a layer wrote or to pause the
   * server. Made on first use (a block that never looks needs no connection), disconnected
   * by the afterAll.
   */
  readonly raw: Redis;
  /**
   * A `make(options)` that creates a layer on this server: `{ backend: 'redis', hosts:
   * [url] }`, then `defaults` (called once per layer, so that a default prefix can be fresh
   * each time), then `options`, later ones winning. Every layer made is closed by the
   * afterAll, before the server stops; closing one in the test as well is harmless (close is
   * idempotent).
   */
  layers(defaults?: LayerOptions | (() => LayerOptions)): (options?: LayerOptions) => Promise<ChannelLayer>;
}

/**
 * Run one redis-server for the tests of the calling describe block (or file, at top level):
 * registers a beforeAll that starts it (`extraArgs` and `mode` as {@link RedisProcess.start})
 * and an afterAll that closes the layers made through {@link RedisServerFixture.layers},
 * disconnects {@link RedisServerFixture.raw} and stops the server, in that order, even when
 * one of them fails (the first failure is then rethrown, so a close that throws still fails
 * the file).
 *
 * Hooks the caller registers after this call run inside these: vitest runs beforeAll hooks
 * in order and afterAll hooks in reverse (`sequence.hooks: 'stack'`), so a peer started in
 * the caller's own beforeAll may use the server, and is stopped by its own afterAll before
 * the server goes.
 *
 * A master with a Sentinel is {@link useRedisSentinel}. Setups whose server needs something
 * made in a hook first (a TLS server and its fresh certificate) use RedisProcess directly.
 */
export function useRedisServer(extraArgs: string[] = [], mode: ServerMode = {}): RedisServerFixture {
  let server: RedisProcess | null = null;
  let raw: Redis | null = null;
  const open: ChannelLayer[] = [];
  const current = (): RedisProcess => {
    if (server === null) {
      throw new Error('useRedisServer: the server runs only from the beforeAll to the afterAll of the describe block that called it; use it inside its tests or hooks');
    }
    return server;
  };
  beforeAll(async () => {
    server = await RedisProcess.start(extraArgs, mode);
  });
  afterAll(async () => {
    const failures: unknown[] = [];
    for (const layer of open.splice(0)) await layer.close().catch((err: unknown) => failures.push(err));
    raw?.disconnect();
    raw = null;
    await server?.stop().catch((err: unknown) => failures.push(err));
    server = null;
    if (failures.length > 0) throw failures[0];
  });
  return {
    get server() {
      return current();
    },
    get url() {
      return current().url;
    },
    get raw() {
      raw ??= new Redis(current().url);
      return raw;
    },
    layers(defaults = {}) {
      return async (options = {}) => {
        const layer = await createLayer({
          backend: 'redis',
          hosts: [current().url],
          ...(typeof defaults === 'function' ? defaults() : defaults),
          ...options,
        });
        open.push(layer);
        return layer;
      };
    },
  };
}

/** What {@link useRedisSentinel} gives the describe block that called it. */
export interface RedisSentinelFixture {
  /** The master, a plain {@link useRedisServer} server. */
  readonly master: RedisServerFixture;
  /** The Sentinel that monitors it. Throws outside the block's tests. */
  readonly sentinel: RedisProcess;
  /** The `hosts` entry that reaches the master through the Sentinel. */
  readonly host: { sentinels: Array<{ host: string; port: number }>; name: string };
}

/**
 * Run a master and one Sentinel monitoring it under `name` (quorum 1) for the tests of the
 * calling describe block: the master as {@link useRedisServer}, then a beforeAll that writes
 * the Sentinel's config (in a temporary folder of its own, as Sentinel rewrites its config
 * file) and starts it. Its afterAll runs before the master's: the Sentinel stops first, then
 * its folder is removed.
 */
export function useRedisSentinel(name = 'ringbus-master'): RedisSentinelFixture {
  const master = useRedisServer();
  let sentinel: RedisProcess | null = null;
  let dir: string | null = null;
  const current = (): RedisProcess => {
    if (sentinel === null) {
      throw new Error('useRedisSentinel: the Sentinel runs only from the beforeAll to the afterAll of the describe block that called it');
    }
    return sentinel;
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ringbus-sentinel-'));
    sentinel = await RedisProcess.start([], {
      sentinelConfig: { file: join(dir, 'sentinel.conf'), text: `sentinel monitor ${name} 127.0.0.1 ${master.server.port} 1` },
    });
  });
  afterAll(async () => {
    try {
      await sentinel?.stop();
    } finally {
      sentinel = null;
      if (dir !== null) rmSync(dir, { recursive: true, force: true });
      dir = null;
    }
  });
  return {
    master,
    get sentinel() {
      return current();
    },
    get host() {
      return { sentinels: [{ host: '127.0.0.1', port: current().port }], name };
    },
  };
}
