/**
 * The API reference as a user reads it: typedoc (the project's typedoc.json, warnings are
 * errors) builds, error class pages carry no Node `Error` statics, `createPool` shows its
 * options as ringbus' own `PoolOptions`, the shared layer's `send` / `receive` pages state the
 * user contract (no implementation notes), and the process lifetime of each backend is said.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const out = mkdtempSync(join(tmpdir(), 'ringbus-api-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** The text of a generated page, tags removed. */
function page(name: string): string {
  return readFileSync(join(out, name), 'utf8')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#39;|&quot;/g, "'")
    .replace(/\s+/g, ' ');
}

beforeAll(async () => {
  await run(process.execPath, [join(root, 'node_modules/typedoc/bin/typedoc'), '--out', out], { cwd: root, timeout: 300_000 });
}, 300_000);

describe('the API reference', () => {
  it('error class pages have no Node Error statics', () => {
    const errors = readdirSync(join(out, 'classes')).filter((f) => /ChannelFull|TimeoutError|RingbusError|LayerClosed/.test(f));
    expect(errors.length).toBeGreaterThanOrEqual(4);
    for (const f of errors) {
      const text = page(`classes/${f}`);
      expect(text, f).toContain('code');
      expect(text, f).not.toMatch(/captureStackTrace|stackTraceLimit|prepareStackTrace/);
    }
  });

  it("createPool's options are ringbus' PoolOptions", () => {
    const html = readFileSync(join(out, 'functions/pool.createPool.html'), 'utf8');
    expect(html).toMatch(/options.*PoolOptions/s);
    expect(html).not.toMatch(/piscina[^"]*Options"/);
    expect(page('interfaces/pool.PoolOptions.html')).toMatch(/maxThreads/);
  });

  it("the shared layer's send and receive state the contract, not implementation notes", () => {
    const text = page('classes/index.SharedLayer.html');
    expect(text).not.toMatch(/Fast path/i);
    expect(text).toMatch(/Enqueue a copy of message on channel/);
    expect(text).toMatch(/Take the oldest message of channel/);
  });

  it('says what keeps the process alive, per backend', () => {
    expect(page('classes/index.SharedLayer.html')).toMatch(/pending wait .* keeps the process alive/);
    expect(page('classes/index.MemoryLayer.html')).toMatch(/pending receive does not keep the process alive/);
    expect(page('classes/index.RedisLayer.html')).toMatch(/connections keep the process alive until close/);
  });
});
