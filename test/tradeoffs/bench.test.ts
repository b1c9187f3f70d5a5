/**
 * The trade-offs bench suite (bench/suites/tradeoffs.js) through the real runner, one short
 * round: every case it opens produces samples and no error, and the knobs the shared layer
 * offers all have their cases. No speed is asserted.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('bench suite: tradeoffs', () => {
  it('measures every setting of every knob with real workers, without errors', async () => {
    const out = await mkdtemp(join(tmpdir(), 'ringbus-tradeoffs-'));
    try {
      const { stdout } = await run(
        process.execPath,
        ['bench/run.js', '--quick', '--rounds', '1', '--time', '20', '--filter', 'tradeoffs', '--json', '--out', out],
        { cwd: root, maxBuffer: 64 * 1024 * 1024 },
      );
      const result = JSON.parse(stdout) as {
        suites: Array<{ name: string; skipped: string | null }>;
        cases: Array<{ id: string; error: string | null; summary: { n: number; median: number } }>;
      };
      expect(result.suites).toEqual([expect.objectContaining({ name: 'tradeoffs', skipped: null })]);
      const ids = result.cases.map((c) => c.id);
      for (const id of [
        'tradeoffs/oneway-delivery-at-most-once',
        'tradeoffs/oneway-full-wait',
        'tradeoffs/oneway-full-reject',
        'tradeoffs/oneway-full-drop-oldest',
        'tradeoffs/rtt-wait-park',
        'tradeoffs/rtt-wait-adaptive',
        'tradeoffs/rtt-wait-spin',
      ]) {
        expect(ids).toContain(id);
      }
      for (const c of result.cases) {
        expect(c.error, c.id).toBeNull();
        expect(c.summary.n, c.id).toBeGreaterThan(0);
        expect(c.summary.median, c.id).toBeGreaterThan(0);
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
