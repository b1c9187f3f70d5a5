/**
 * The real thing, small: `npm run bench -- --quick --filter floor --json` (and the same through
 * the `ringbus bench` bin) runs real worker threads and writes valid JSON. No speed is
 * asserted: only that every floor case produced samples and the files are whole.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function bench(entry: string[], filter: string) {
  const out = await mkdtemp(join(tmpdir(), 'ringbus-smoke-'));
  dirs.push(out);
  const { stdout } = await run(process.execPath, [...entry, '--quick', '--filter', filter, '--json', '--time', '40', '--out', out], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
  });
  const printed = JSON.parse(stdout);
  const written = JSON.parse(await readFile(join(out, 'latest.json'), 'utf8'));
  expect(written).toEqual(printed);
  const html = await readFile(join(out, 'report.html'), 'utf8');
  expect(html).toMatch(/^<!doctype html>[\s\S]*<\/html>\n$/);
  return written;
}

describe('bench smoke run', () => {
  it('--quick --filter floor --json measures every floor case', async () => {
    const result = await bench(['bench/run.js'], 'floor');
    expect(result.suites).toEqual([expect.objectContaining({ name: 'floor', skipped: null })]);
    const ids = result.cases.map((c: { id: string }) => c.id);
    expect(ids).toEqual(['floor/spin-rtt', 'floor/wait-rtt', 'floor/waitasync-rtt', 'floor/ring-16b', 'floor/ring-64b', 'floor/ring-64kib-copy']);
    for (const c of result.cases) {
      expect(c.error).toBeNull();
      expect(c.summary.n).toBeGreaterThan(0);
      expect(c.summary.median).toBeGreaterThan(0);
      expect(c.perRound).toHaveLength(2);
    }
  });

  it('ringbus bench (the bin) does the same', async () => {
    const result = await bench(['dist/cli.js', 'bench'], 'floor/spin,codec/pack-chat');
    expect(result.cases.map((c: { id: string }) => c.id)).toEqual(['floor/spin-rtt', 'codec/pack-chat']);
  });
});
