/**
 * The packed package, installed as a user installs it: `npm pack`, then `npm install` of the
 * tarball into a new app, offline (the app's node_modules is seeded with this checkout's
 * runtime dependencies, so npm needs no registry). The app imports all three entry points,
 * runs a worker on the bus and a pool, meets the ESM-only message of `require`, runs the CLI
 * and a shipped example, and every relative link of the shipped README resolves.
 */
import { execFile } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const work = mkdtempSync(join(tmpdir(), 'ringbus-tarball-'));
const app = join(work, 'app');
const installed = join(app, 'node_modules', 'ringbus');
let files: string[] = [];

/** Hard-link a copy of directory `from` at `to` (fast, no extra space; these files are only read). */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isDirectory()) linkTree(src, dst);
    else if (entry.isFile()) linkSync(src, dst);
  }
}

function node(args: string[], cwd = app): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, args, { cwd, timeout: 120_000, encoding: 'utf8' });
}

beforeAll(async () => {
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root, encoding: 'utf8' });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  files = packed!.files.map((f) => f.path);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  // Seed the runtime dependencies (what the registry would give) so that the install is offline.
  const { stdout: deps } = await run('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: root, encoding: 'utf8' });
  for (const path of deps.trim().split('\n').slice(1)) linkTree(path, join(app, relative(root, path)));
  await run('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', join(work, packed!.filename)], {
    cwd: app,
    encoding: 'utf8',
  });
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed tarball, installed in a new app', () => {
  it('ships the code, the core, the docs, the examples, LICENSE and CHANGELOG, and no tests', () => {
    for (const f of [
      'package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts', 'dist/pool.js',
      'dist/worker.js', 'build/core.wasm', 'src/esm-only.cjs', 'docs/core.md', 'docs/redis.md', 'docs/tradeoffs.md',
      'docs/bench.md', 'examples/worker-threads.mjs', 'bench/run.js', 'bench/python.js',
    ]) {
      expect(files, f).toContain(f);
    }
    expect(files.some((f) => f.startsWith('test/'))).toBe(false);
    expect(files.some((f) => f.startsWith('docs/api/'))).toBe(false);
    expect(existsSync(join(installed, 'build/core.wasm'))).toBe(true);
  });

  it('every relative link of the shipped README points to a shipped file', () => {
    const readme = readFileSync(join(installed, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThan(3);
    for (const link of links) expect(files, link).toContain(link.replace(/^\.\//, ''));
  });

  it('imports all three entry points and runs a worker and a pool on the bus', async () => {
    writeFileSync(
      join(app, 'worker.js'),
      `import { attachLayer } from 'ringbus';
       import { workerData } from 'node:worker_threads';
       const bus = attachLayer();
       await bus.send('ready', { id: workerData.id });
       await bus.close();`,
    );
    writeFileSync(
      join(app, 'task.js'),
      `import { workerLayer, workerData } from 'ringbus/worker';
       export default async function ({ n }) {
         await workerLayer.send('squares', { n, square: n * n, tenant: workerData.tenant });
         return n;
       }`,
    );
    writeFileSync(
      join(app, 'main.js'),
      `import { createLayer, workerData } from 'ringbus';
       import { createPool } from 'ringbus/pool';
       import { Worker } from 'node:worker_threads';
       const layer = await createLayer({ memory: 8 * 1024 * 1024 });
       new Worker(new URL('./worker.js', import.meta.url), { workerData: workerData(layer, { id: 7 }) });
       const ready = await layer.receive('ready', { timeout: 30000 });
       const pool = createPool(layer, { filename: new URL('./task.js', import.meta.url).href, maxThreads: 1, workerData: { tenant: 'a' } });
       await pool.run({ n: 3 });
       const square = await layer.receive('squares', { timeout: 30000 });
       await pool.destroy();
       await layer.close();
       console.log(JSON.stringify({ ready, square }));`,
    );
    const { stdout } = await node(['main.js']);
    expect(JSON.parse(stdout)).toEqual({ ready: { id: 7 }, square: { n: 3, square: 9, tenant: 'a' } });
  });

  it("require('ringbus') says it is ESM only, for every entry point", async () => {
    writeFileSync(
      join(app, 'cjs.cjs'),
      `for (const m of ['ringbus', 'ringbus/pool', 'ringbus/worker']) {
         try { require(m); console.log(m + ': loaded'); } catch (e) { console.log(m + ': ' + e.code + ': ' + e.message); }
       }`,
    );
    const { stdout } = await node(['cjs.cjs']);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(/: ERR_RINGBUS_ESM_ONLY: ringbus is ESM only: use import/);
  });

  it('runs the CLI and a shipped example', async () => {
    const bin = join(app, 'node_modules', '.bin', 'ringbus');
    expect(statSync(bin).isFile() || statSync(bin).isSymbolicLink()).toBe(true);
    const version = await node([join(installed, 'dist/cli.js'), '--version']);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
    const help = await node([join(installed, 'dist/cli.js'), 'bench', '--help']);
    expect(help.stdout).toMatch(/current directory/);
    // `ringbus bench` writes its results under the current directory, not into node_modules
    // (a filter that matches no suite runs nothing, and still writes the results).
    await node([join(installed, 'dist/cli.js'), 'bench', '--quick', '--filter', 'no-such-suite']).catch(() => undefined);
    expect(existsSync(join(app, 'bench/results/latest.json'))).toBe(true);
    expect(existsSync(join(installed, 'bench/results'))).toBe(false);
    const example = await node([join(installed, 'examples/hello-memory.mjs')]);
    expect(example.stdout).toMatch(/received:/);
  });
});
