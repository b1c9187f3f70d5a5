/**
 * The arithmetic behind every figure and ratio the bench prints: quantiles, summaries,
 * round-by-round ratios and their baselines, flag parsing, filters, and the table/report
 * renderers on a synthetic result.
 */
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../bench/args.js';
import { selectsCase, selectsSuite } from '../../bench/harness.js';
import { formatTick, logTicks, ratioChart, renderReport } from '../../bench/report.js';
import { computeRatio, median, quantile, summarize, summarizeRounds } from '../../bench/stats.js';
import { busyNote, renderTable } from '../../bench/table.js';
import { goalOf, optionsText, verdictOf } from '../../bench/summary.js';

describe('stats', () => {
  it('interpolates quantiles between order statistics', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10], 0.99)).toBe(10);
    expect(quantile([0, 100], 0.99)).toBeCloseTo(99);
    expect(Number.isNaN(quantile([], 0.5))).toBe(true);
    expect(median([5, 1, 3])).toBe(3);
  });

  it('summarises samples: median, p99, mean, spread', () => {
    const s = summarize([4, 1, 3, 2, 5, Number.NaN]);
    expect(s.n).toBe(5); // the NaN is not a sample
    expect(s.median).toBe(3);
    expect(s.mean).toBe(3);
    expect(s.min).toBe(1);
    expect(s.max).toBe(5);
    expect(s.mad).toBe(1); // |x - 3| = 2,1,0,1,2 -> median 1
    expect(s.rsd).toBeCloseTo(100 / 3);
    expect(s.sd).toBeCloseTo(Math.sqrt(2.5));
    expect(s.p99).toBeCloseTo(4.96);
  });

  it('pools rounds for counts and tails, and weighs rounds alike for the median', () => {
    const s = summarizeRounds([
      [1, 1, 1, 1, 1, 1, 1, 1],
      [10, 10],
      [20, 30, 25],
    ]);
    expect(s.n).toBe(13);
    expect(s.rounds).toBe(3);
    expect(s.roundMedians).toEqual([1, 10, 25]);
    // A fast round yields more samples in the same budget; it must not outvote the others.
    expect(s.median).toBe(10);
    expect(s.pooledMedian).toBe(1);
    expect(s.max).toBe(30);
  });

  const summaries = new Map([
    ['a/figure', summarizeRounds([[10], [12], [30]])],
    ['a/floor', summarizeRounds([[2], [3], [5]])],
    ['a/codec', summarizeRounds([[1], [1], [2.5]])],
  ]);

  it('time ratios are figure / baseline, paired round by round', () => {
    const r = computeRatio({ label: 'figure / floor', of: 'a/figure', over: 'a/floor', kind: 'time' }, summaries);
    expect(r.perRound).toEqual([5, 4, 6]);
    expect(r.value).toBe(5); // the median of the paired ratios
    expect(r.low).toBe(4);
    expect(r.high).toBe(6);
    expect(r.ofMedians).toBe(12 / 3);
    expect(r.better).toBe('lower');
    expect(r.missing).toEqual([]);
  });

  it('rate ratios are figure rate / baseline rate', () => {
    const r = computeRatio({ label: 'x', of: 'a/figure', over: 'a/floor', kind: 'rate' }, summaries);
    // per-op times 10 vs 2: the figure does a fifth of the baseline's operations per second
    expect(r.perRound).toEqual([0.2, 0.25, 1 / 6]);
    expect(r.value).toBe(0.2);
    expect(r.better).toBe('higher');
  });

  it('a tail ratio is a latency case p99 over its own median, judged by its goal', () => {
    const lat = new Map([['a/rtt', summarizeRounds([[...Array(98).fill(1), 10, 10], [...Array(98).fill(1), 10, 10]])]]);
    const r = computeRatio({ label: 'tail', of: 'a/rtt', over: 'a/rtt', kind: 'tail', goal: { value: 3 } }, lat);
    expect(r.figureMs).toBe(lat.get('a/rtt')!.p99);
    expect(r.baselineMs).toBe(1);
    expect(r.value).toBe(r.figureMs / 1);
    expect(r.value).toBeGreaterThan(3);
    expect(verdictOf(r).text).toMatch(/^p99 .+× the median$/);
    expect(goalOf(r)).toEqual({ text: 'goal ≤ 3×', met: false });
  });

  it('a baseline can be a weighted sum of figures (floor + 2 x codec)', () => {
    const r = computeRatio(
      { label: 'x', of: 'a/figure', over: ['a/floor', { id: 'a/codec', times: 2 }], kind: 'time' },
      summaries,
    );
    expect(r.perRound).toEqual([10 / 4, 12 / 5, 30 / 10]);
    expect(r.over).toEqual([
      { id: 'a/floor', times: 1 },
      { id: 'a/codec', times: 2 },
    ]);
  });

  it('a ratio with a side missing from the run is unavailable and says which side', () => {
    const r = computeRatio({ label: 'x', of: 'a/figure', over: 'b/absent', kind: 'time' }, summaries);
    expect(Number.isNaN(r.value)).toBe(true);
    expect(r.missing).toEqual(['b/absent']);
  });
});

describe('flags', () => {
  it('has full-run and quick defaults', () => {
    expect(parseArgs([])).toMatchObject({ quick: false, json: false, rounds: 4, timeMs: 600, filters: [] });
    expect(parseArgs(['--quick'])).toMatchObject({ quick: true, rounds: 2, timeMs: 150 });
  });

  it('parses filters, numbers and --flag=value', () => {
    const o = parseArgs(['--filter', 'floor,codec', '--filter=shared/rtt', '--json', '--rounds', '3', '--time=50', '--out', 'x']);
    expect(o.filters).toEqual(['floor', 'codec', 'shared/rtt']);
    expect(o).toMatchObject({ json: true, rounds: 3, timeMs: 50, out: 'x' });
  });

  it('rejects unknown flags and bad values, naming them', () => {
    expect(() => parseArgs(['--fast'])).toThrow(/unknown flag "--fast"/);
    expect(() => parseArgs(['--rounds', '0'])).toThrow(/invalid --rounds "0"/);
    expect(() => parseArgs(['--filter'])).toThrow(/--filter needs a value/);
  });
});

describe('filters', () => {
  const names = ['floor', 'codec', 'shared'];
  it('a suite name selects the suite and all its cases', () => {
    expect(selectsSuite(['floor'], 'floor', names)).toBe(true);
    expect(selectsSuite(['floor'], 'codec', names)).toBe(false);
    expect(selectsCase(['floor'], 'floor', 'spin-rtt')).toBe(true);
  });

  it('suite/case selects matching cases only', () => {
    expect(selectsSuite(['floor/spin'], 'floor', names)).toBe(true);
    expect(selectsCase(['floor/spin'], 'floor', 'spin-rtt')).toBe(true);
    expect(selectsCase(['floor/spin'], 'floor', 'wait-rtt')).toBe(false);
  });

  it('a filter naming no suite is a case filter over every suite', () => {
    expect(selectsSuite(['rtt'], 'codec', names)).toBe(true);
    expect(selectsCase(['rtt'], 'codec', 'pack-chat')).toBe(false);
    expect(selectsCase(['rtt'], 'shared', 'rtt-spin-chat')).toBe(true);
  });

  it('no filter selects everything', () => {
    expect(selectsSuite([], 'x', names)).toBe(true);
    expect(selectsCase([], 'x', 'y')).toBe(true);
  });
});

describe('table and report', () => {
  const summary = summarizeRounds([
    [0.001, 0.0011],
    [0.0012, 0.001],
  ]);
  const result = {
    machine: { cpuModel: 'Test CPU', cpuCount: 2, node: 'v20', platform: 'linux' },
    options: { quick: true, rounds: 2, timeMsPerCaseRound: 150, filters: [] },
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1000,
    ringbusVersion: '0.0.0',
    suites: [
      { name: 'floor', title: 'Floor title', skipped: null },
      { name: 'shared', title: 'Shared title', skipped: 'not there <yet>' },
    ],
    cases: [
      { id: 'floor/spin-rtt', suite: 'floor', name: 'spin round trip', kind: 'latency', unit: 'round trip', batch: 10, error: null, summary },
      { id: 'floor/ring', suite: 'floor', name: 'ring', kind: 'rate', unit: 'record', batch: 100, error: null, summary },
    ],
    ratios: [
      { suite: 'floor', label: 'ring / spin round trip', of: 'floor/ring', kind: 'time', better: 'lower', value: 1, low: 0.9, high: 1.1, perRound: [0.9, 1.1], missing: [] },
      { suite: 'shared', label: 'rtt / spin floor', of: 'shared/rtt', kind: 'time', better: 'lower', value: NaN, low: NaN, high: NaN, perRound: [], missing: ['shared/rtt'] },
    ],
  };

  it('prints figures, their ratios, and skipped suites with the reason', () => {
    const text = renderTable(result);
    expect(text).toMatch(/spin round trip\s+1\.07 µs\s+1\.20 µs\s+4×10  ±4\.8% · 1\.05 µs–1\.10 µs/);
    expect(text).toMatch(/ring\s+1\.07 µs\/rec\s+930 krec\/s\s+4×100  ±4\.8% · 909 k–952 k/);
    // Its rounds span 1×: no verdict either way.
    expect(text).toMatch(/↳ \/ spin round trip\s+1\.00×\s+rounds 0\.900×–1\.10×, no clear difference/);
    expect(text).toContain('skipped: not there <yet>');
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(120);
  });

  it('puts a name too long for its column on a line of its own, never splitting a number from its unit', () => {
    const long = { ...result, cases: [{ ...result.cases[0], name: 'a very long figure name that cannot fit in the name column of the table at all' }] };
    const lines = renderTable(long).split('\n');
    const at = lines.findIndex((l) => l.includes('a very long figure name'));
    expect(lines[at]!.trim()).toBe('a very long figure name that cannot fit in the name column of the table at all');
    expect(lines[at + 1]).toMatch(/^\s+1\.07 µs\s+1\.20 µs/);
  });

  it('judges ratios by their rounds, and goals by the ratio', () => {
    const base = { missing: [], kind: 'time', better: 'lower', goal: null };
    expect(verdictOf({ ...base, value: 1.2, low: 0.95, high: 1.4, perRound: [0.95, 1.4] })).toEqual({ kind: 'neutral', text: 'no clear difference' });
    expect(verdictOf({ ...base, value: 2, low: 1.8, high: 2.2, perRound: [1.8, 2.2] })).toEqual({ kind: 'worse', text: '2.00× slower' });
    expect(verdictOf({ ...base, value: 0.5, low: 0.4, high: 0.6, perRound: [0.4, 0.6] })).toEqual({ kind: 'better', text: '2.00× faster' });
    expect(verdictOf({ ...base, kind: 'rate', better: 'higher', value: 3, low: 2, high: 4, perRound: [2, 4] })).toEqual({ kind: 'better', text: '3.00× more' });
    expect(verdictOf({ ...base, value: NaN, low: NaN, high: NaN, perRound: [], missing: ['a/b'] }).kind).toBe('missing');
    expect(goalOf({ ...base, value: 1.4, goal: { value: 1.5, source: 'issue 10' } })).toEqual({ text: 'goal ≤ 1.5× (issue 10)', met: true });
    expect(goalOf({ ...base, kind: 'rate', better: 'higher', value: 8, goal: { value: 10 } })).toEqual({ text: 'goal ≥ 10×', met: false });
    expect(goalOf(base)).toBeNull();
    // an absolute goal on the figure's rate (a time per delivery): 0.2 µs = 5 M/s
    const rate = { ...base, kind: 'rate', better: 'higher', goal: { rate: 5e6, unit: 'delivery', source: 'issue 10' } };
    expect(goalOf({ ...rate, figureMs: 0.0002 })).toEqual({ text: 'goal ≥ 5.00 Mdelivery/s (issue 10)', met: true });
    expect(goalOf({ ...rate, figureMs: 0.00025 })).toEqual({ text: 'goal ≥ 5.00 Mdelivery/s (issue 10)', met: false });
    expect(goalOf({ ...rate, figureMs: NaN })).toEqual({ text: 'goal ≥ 5.00 Mdelivery/s (issue 10)', met: null });
  });

  it('opens with a summary of the headline ratios: figure, baseline, ratio, verdict, goal', () => {
    const withHeadline = {
      ...result,
      ratios: [{ ...result.ratios[0], headline: true, goal: { value: 2, source: 'issue 0' }, value: 1.5, low: 1.2, high: 1.7, perRound: [1.2, 1.7], figureMs: 0.002, baselineMs: 0.001 }],
    };
    const text = renderTable(withHeadline);
    expect(text.indexOf('Summary:')).toBeLessThan(text.indexOf('Floor title'));
    expect(text).toMatch(/ring \/ spin round trip\n\s+2\.00 µs vs 1\.00 µs: 1\.50× \(rounds 1\.20×–1\.70×\), 1\.50× slower · goal ≤ 2× \(issue 0\): met/);
    const html = renderReport(withHeadline);
    expect(html.indexOf('id="summary"')).toBeLessThan(html.indexOf('Floor title'));
    expect(optionsText({ capacity: 1000, full: 'wait', memory: 64 * 1024 * 1024 })).toBe("capacity 1000, full 'wait', memory 64.0 MiB");
    expect(optionsText({})).toBe('defaults');
    expect(optionsText(null)).toBeNull();
  });

  it('warns of a busy machine from the load before the run only (the bench loads the cores itself)', () => {
    expect(busyNote({ cpuCount: 2, loadAverageAtStart: [0.4], loadAverage: [1.9] })).toBeNull();
    expect(busyNote({ cpuCount: 2, loadAverageAtStart: [1.5], loadAverage: [0.2] })).toMatch(/busy before the run \(load average 1\.50 on 2 cores\)/);
    expect(busyNote({ cpuCount: 2 })).toBeNull();
  });

  it('writes a self-contained page with an SVG chart per kind of ratio, escaping text', () => {
    const html = renderReport(result);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<svg');
    expect(html).toContain('skipped: not there &lt;yet&gt;');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });

  it('charts only ratios that have a value, on a log axis through 1x', () => {
    const svg = ratioChart(result.ratios, { title: 't', note: 'n' });
    expect(svg.match(/<rect /g)).toHaveLength(1);
    expect(ratioChart([result.ratios[1]], { title: 't', note: '' })).toBe('');
    expect(logTicks(0.5, 15)).toEqual([0.5, 1, 2, 5, 10]);
    expect(logTicks(0.5, 40)).toEqual([1, 3, 10, 30]);
    expect(logTicks(0.1, 1000)).toContain(1);
    // Axis labels use the digits they need: 0.1×, not 0.100×.
    expect([0.1, 0.5, 1, 2, 30, 1000].map(formatTick)).toEqual(['0.1×', '0.5×', '1×', '2×', '30×', '1000×']);
    expect(svg).not.toMatch(/class="tick"[^>]*>[^<]*\.\d*0×/);
    expect(svg).toMatch(/class="tick"[^>]*>0\.5×</);
  });
});
