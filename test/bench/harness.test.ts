/**
 * The runner on made-up suites (no threads, short budgets): interleaved round order, samples
 * per operation, custom measurements, a failing case that does not stop the run, a skipped
 * suite, and what main() writes (JSON, HTML, exit code).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSuites } from '../../bench/harness.js';
import { main } from '../../bench/run.js';

const quiet = { step() {}, note() {}, done() {}, elapsed: () => 0 };
/** A stand-in for stdout/stderr that keeps what is written (typed as the stream main() expects). */
const sink = () => {
  let text = '';
  const stream = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream & { fd: 1 & 2 };
  return Object.assign(stream, { text: () => text });
};
// The runner's results are plain JavaScript objects; the test reads them loosely.
type Loose = any;

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

function makeSuite(visits: string[]) {
  return {
    name: 'fake',
    title: 'A fake suite',
    ratios: [{ label: 'slow / fast', of: 'fake/slow', over: 'fake/fast', kind: 'time' }],
    async open() {
      return {
        cases: [
          {
            id: 'fast',
            name: 'fast, batched',
            kind: 'latency',
            unit: 'op',
            batch: 10,
            async open() {
              visits.push('fast');
              return { run: () => busy(0.2) }; // 10 operations of 0.02 ms
            },
          },
          {
            id: 'slow',
            name: 'slow, async',
            kind: 'latency',
            unit: 'op',
            async open() {
              visits.push('slow');
              return {
                async: true,
                run: async () => {
                  await new Promise((r) => setImmediate(r));
                  busy(0.1);
                },
              };
            },
          },
          {
            id: 'value',
            name: 'a measured value',
            kind: 'value',
            unit: 'byte',
            async open() {
              visits.push('value');
              return { measure: async () => [100, 200] };
            },
          },
          {
            id: 'broken',
            name: 'fails to open',
            kind: 'latency',
            unit: 'op',
            async open() {
              visits.push('broken');
              throw Object.assign(new Error('no such thing'), { code: 'ERR_TEST' });
            },
          },
        ],
      };
    },
  };
}

const skippedSuite = { name: 'absent', title: 'Absent', ratios: [], open: async () => ({ skipped: 'not here' }) };
const failingSuite = {
  name: 'failing',
  title: 'Failing',
  ratios: [],
  open: async () => {
    throw new TypeError('bad option');
  },
};
const options = { rounds: 2, timeMs: 20, warmupMs: 5, quick: true, filters: [] as string[], progress: quiet };

describe('runSuites', () => {
  it('visits cases in alternating order, one round at a time', async () => {
    const visits: string[] = [];
    const run = await runSuites([makeSuite(visits), skippedSuite], options);
    // Round 2 runs in reverse; the broken case is dropped after its first failure.
    expect(visits).toEqual(['fast', 'slow', 'value', 'broken', 'value', 'slow', 'fast']);
    expect(run.suites).toEqual([
      { name: 'fake', title: 'A fake suite', skipped: null, error: null, ratios: makeSuite([]).ratios },
      { name: 'absent', title: 'Absent', skipped: 'not here', error: null, ratios: [] },
    ]);
    const byId = new Map<string, Loose>(run.cases.map((c: Loose) => [c.id, c]));
    const fast = byId.get('fake/fast');
    expect(fast.samples).toHaveLength(2);
    expect(fast.summary.n).toBeGreaterThanOrEqual(10);
    // Each sample is the time of one call divided by its 10 operations.
    expect(fast.summary.median).toBeGreaterThan(0.015);
    expect(fast.summary.median).toBeLessThan(0.2);
    expect(byId.get('fake/slow').summary.median).toBeGreaterThan(0.09);
    expect(byId.get('fake/value').summary).toMatchObject({ n: 4, median: 150, min: 100, max: 200 });
    expect(byId.get('fake/broken').error).toBe('ERR_TEST: no such thing');
    expect(byId.get('fake/broken').summary.n).toBe(0);
  });

  it('runs only the selected cases', async () => {
    const visits: string[] = [];
    const run = await runSuites([makeSuite(visits), skippedSuite], { ...options, rounds: 1, filters: ['fake/value'] });
    expect(visits).toEqual(['value']);
    expect(run.suites.map((s: { name: string }) => s.name)).toEqual(['fake']);
  });
});

describe('main', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('prints JSON, writes latest.json and report.html, and exits 1 when a case failed', async () => {
    const out = await mkdtemp(join(tmpdir(), 'ringbus-bench-'));
    dirs.push(out);
    const stdout = sink();
    const stderr = sink();
    const code = await main(['--json', '--rounds', '2', '--time', '20', '--out', out], {
      suites: [makeSuite([]), skippedSuite],
      stdout,
      stderr,
    });
    expect(code).toBe(1);
    const printed = JSON.parse(stdout.text());
    const written = JSON.parse(await readFile(join(out, 'latest.json'), 'utf8'));
    expect(written).toEqual(printed);
    expect(written.machine.cpuCount).toBeGreaterThan(0);
    expect(written.machine.node).toBe(process.version);
    expect(written.options).toMatchObject({ rounds: 2, timeMsPerCaseRound: 20 });
    const ratio = written.ratios.find((r: { label: string }) => r.label === 'slow / fast');
    expect(ratio.perRound).toHaveLength(2);
    expect(ratio.value).toBeGreaterThan(1);
    expect(written.cases.find((c: { id: string }) => c.id === 'fake/fast').perRound).toHaveLength(2);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('slow / fast');
    expect(html).toContain('skipped: not here');
  });

  it('a suite that throws while opening fails the run (a skipped one does not)', async () => {
    const out = await mkdtemp(join(tmpdir(), 'ringbus-bench-'));
    dirs.push(out);
    const io = { stdout: sink(), stderr: sink() };
    expect(await main(['--json', '--out', out], { suites: [skippedSuite], ...io })).toBe(0);
    const again = { stdout: sink(), stderr: sink() };
    expect(await main(['--json', '--out', out], { suites: [skippedSuite, failingSuite], ...again })).toBe(1);
    const written = JSON.parse(again.stdout.text());
    expect(written.suites[1]).toMatchObject({ name: 'failing', skipped: 'failed to open: bad option', error: 'bad option' });
  });

  it('rejects a bad flag with exit code 2', async () => {
    const stderr = sink();
    expect(await main(['--nope'], { suites: [], stdout: sink(), stderr })).toBe(2);
    expect(stderr.text()).toContain('unknown flag "--nope"');
  });
});
