/**
 * One short round of the ringbus suites through the real runner: the shared-layer cases that
 * start workers (round trip, 1 -> 1, 2 -> 2, fan-out) and the Redis comparison (Node and
 * Python channels_redis on the bench's own redis-server). They must produce samples and no
 * errors; no speed is asserted. Without redis-server or channels_redis the Redis suite must say
 * it is skipped and why, unless RINGBUS_REQUIRE_REDIS=1 (CI), where skipping is a failure.
 */
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

// A hang guard, not a speed limit: two threads that spin on a loaded two-core machine can take
// far longer than vitest's default while the scheduler hands them the cores in turns.
const SUITE_TIMEOUT_MS = 300_000;

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface CaseResult {
  id: string;
  error: string | null;
  summary: { n: number; median: number };
}

async function bench(filter: string) {
  const out = await mkdtemp(join(tmpdir(), 'ringbus-suites-'));
  dirs.push(out);
  const { stdout } = await run(
    process.execPath,
    ['bench/run.js', '--quick', '--rounds', '1', '--time', '30', '--filter', filter, '--json', '--out', out],
    // Killed before the hang guard fires, so a stuck bench never outlives the test.
    { cwd: root, maxBuffer: 64 * 1024 * 1024, timeout: SUITE_TIMEOUT_MS - 10_000, killSignal: 'SIGKILL' },
  );
  return JSON.parse(stdout) as { suites: Array<{ name: string; skipped: string | null }>; cases: CaseResult[] };
}

function expectMeasured(cases: CaseResult[], ids: string[]) {
  expect(cases.map((c) => c.id)).toEqual(ids);
  for (const c of cases) {
    expect(c.error, c.id).toBeNull();
    expect(c.summary.n, c.id).toBeGreaterThan(0);
    expect(c.summary.median, c.id).toBeGreaterThan(0);
  }
}

describe('ringbus suites, one short round', () => {
  it('shared layer: round trip, 1 -> 1, 2 -> 2 and fan-out with real workers', async () => {
    const result = await bench('shared/rtt-park-chat,shared/oneway-1to1-chat,shared/oneway-2to2,shared/fanout');
    expect(result.suites).toEqual([expect.objectContaining({ name: 'shared', skipped: null })]);
    expectMeasured(result.cases, [
      'shared/rtt-park-chat', 'shared/oneway-1to1-chat', 'shared/oneway-2to2-chat', 'shared/fanout-1000', 'shared/fanout-1000-frozen',
      'shared/fanout-1000-try', 'shared/fanout-1000-frozen-try', 'shared/fanout-1000-records',
    ]);
  }, SUITE_TIMEOUT_MS);

  it('core: the core alone across two threads (held, pinned per operation) and the plain JS ring', async () => {
    const result = await bench('core');
    expect(result.suites).toEqual([expect.objectContaining({ name: 'core', skipped: null })]);
    expectMeasured(result.cases, ['core/jsring-16b', 'core/core-held-16b', 'core/core-pinned-16b']);
  }, SUITE_TIMEOUT_MS);

  it('Redis: ringbus and channels_redis on the same server, or skipped with the reason', async () => {
    const result = await bench('redis/rtt');
    const suite = result.suites.find((s) => s.name === 'redis');
    expect(suite).toBeDefined();
    if (suite?.skipped) {
      expect(process.env.RINGBUS_REQUIRE_REDIS, `redis suite skipped: ${suite.skipped}`).not.toBe('1');
      expect(suite.skipped).toMatch(/redis-server|python3|channels_redis|backend/);
      return;
    }
    expectMeasured(result.cases, ['redis/rtt-ringbus', 'redis/rtt-channels_redis']);
  }, SUITE_TIMEOUT_MS);
});
