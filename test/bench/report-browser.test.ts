/**
 * The bench report as a reader sees it: main() runs made-up suites (one skipped, one with a
 * headline ratio and a goal), writes report.html, and a real headless chromium (Debian's,
 * /usr/bin/chromium, or $CHROMIUM) loads the page; the DOM it renders has the summary with the
 * headline, its verdict and goal, and a section for every suite. Also: nothing is written to
 * stderr after the table.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../bench/run.js';

const run = promisify(execFile);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (process.env.RINGBUS_REQUIRE_CHROMIUM === '1') throw new Error(`RINGBUS_REQUIRE_CHROMIUM=1 but ${CHROMIUM} is missing: apt-get install chromium`);
  console.warn(`\n*** SKIPPING the report's browser test: ${CHROMIUM} not found (apt-get install chromium, or set CHROMIUM) ***\n`);
}
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

const measured = {
  name: 'fake',
  title: 'A fake suite <with markup>',
  ratios: [
    { label: 'slow / fast', of: 'fake/slow', over: 'fake/fast', kind: 'time', headline: true, goal: { value: 1.5, source: 'issue 0' } },
    { label: 'fast / slow', of: 'fake/fast', over: 'fake/slow', kind: 'time' },
  ],
  async open() {
    return {
      cases: [
        { id: 'fast', name: 'fast', kind: 'latency', unit: 'op', options: { capacity: 10 }, async open() { return { run: () => busy(0.05) }; } },
        { id: 'slow', name: 'slow', kind: 'latency', unit: 'op', options: {}, async open() { return { run: () => busy(0.2) }; } },
      ],
    };
  },
};
const skipped = { name: 'absent', title: 'An absent suite', ratios: [{ label: 'x / y', of: 'absent/x', over: 'absent/y', kind: 'rate', headline: true }], open: async () => ({ skipped: 'not installed here' }) };

/** stdout and stderr writes, in the order they happened. */
function recorder() {
  const log: Array<{ stream: 'out' | 'err'; text: string }> = [];
  const make = (stream: 'out' | 'err') =>
    ({ write: (s: string) => (log.push({ stream, text: s }), true), isTTY: false }) as unknown as NodeJS.WriteStream & { fd: 1 & 2 };
  return { log, stdout: make('out'), stderr: make('err') };
}

async function report() {
  const out = await mkdtemp(join(tmpdir(), 'ringbus-report-'));
  dirs.push(out);
  const rec = recorder();
  const code = await main(['--rounds', '2', '--time', '20', '--out', out], { suites: [measured, skipped], stdout: rec.stdout, stderr: rec.stderr });
  return { out, code, log: rec.log };
}

describe('the bench report', () => {
  it('says everything for stderr before the table, and the table fits 120 columns', async () => {
    const { code, log } = await report();
    expect(code).toBe(0);
    const table = log.findIndex((w) => w.stream === 'out');
    expect(table).toBeGreaterThan(0);
    expect(log.slice(table).filter((w) => w.stream === 'err')).toEqual([]);
    const text = log.filter((w) => w.stream === 'out').map((w) => w.text).join('');
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(120);
    expect(text).toMatch(/^Summary: the headline figures/m);
    expect(text).toMatch(/options: capacity 10/);
    expect(text).toMatch(/goal ≤ 1\.5× \(issue 0\): (met|not met)/);
  });

  it.skipIf(!haveChromium)('renders in headless chromium with the summary and every suite', async () => {
    const { out } = await report();
    const profile = await mkdtemp(join(tmpdir(), 'ringbus-chromium-'));
    dirs.push(profile);
    const { stdout } = await run(
      CHROMIUM,
      [
        '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--dump-dom',
        pathToFileURL(join(out, 'report.html')).href,
      ],
      { timeout: 120_000, maxBuffer: 32 * 1024 * 1024, encoding: 'utf8' },
    );
    // The rendered DOM: the summary section first, with the headline, its verdict and goal.
    expect(stdout).toMatch(/<section id="summary"><h2>Summary<\/h2>/);
    const summary = stdout.slice(stdout.indexOf('<section id="summary">'), stdout.indexOf('</section>'));
    expect(summary).toContain('slow / fast');
    expect(summary).toMatch(/slower|faster|no clear difference/);
    expect(summary).toMatch(/goal ≤ 1\.5× \(issue 0\)/);
    expect(summary).toMatch(/x \/ y.*not measured \(suite skipped: not installed here\)/s);
    expect(stdout.indexOf('id="summary"')).toBeLessThan(stdout.indexOf('id="suite-fake"'));
    // Every suite has its section, the skipped one with its reason.
    expect(stdout).toContain('<h2 id="suite-fake">A fake suite &lt;with markup&gt;</h2>');
    expect(stdout).toContain('<h2 id="suite-absent">An absent suite</h2>');
    expect(stdout).toContain('skipped: not installed here');
    expect(stdout).toMatch(/<svg[^>]*aria-label="time \(or memory\) relative to the baseline"/);
  });
});
