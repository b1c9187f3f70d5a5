// The table printed on stdout. First the summary (every headline ratio: figure, baseline, ratio
// with its round range, verdict, goal); then per suite every figure (median, p99 for latencies,
// ops/s for rates, how many samples and their spread), the layer options it ran with, and under
// it its ratios to the baselines of the same run (value from the round-by-round ratios, range
// their spread). Every line fits in WIDTH columns: a name too long for its column gets a line
// of its own, and a number is never split from its unit.

import { formatBytes, formatPercent, formatRate, formatRatio, formatTime, shortUnit } from './format.js';
import { ratePerSecond } from './stats.js';
import { goalOf, headlines, optionsText, verdictOf } from './summary.js';

/** The widest line the table prints (a terminal of 120 columns). */
export const WIDTH = 120;
/** Column widths: the name, then the right-aligned figure columns. */
const W = { name: 46, median: 13, p99: 10, rate: 14, samples: 10 };

function pad(text, width, right = false) {
  const s = String(text);
  if (s.length >= width) return s;
  return right ? s.padStart(width) : s.padEnd(width);
}

/** Cut `line` to WIDTH columns (with an ellipsis), for the rare free text that would not fit. */
function fit(line) {
  return line.length <= WIDTH ? line : `${line.slice(0, WIDTH - 1)}…`;
}

/** `name` then `rest` on one line when the name fits its column, else the name on a line of its own. */
function row(name, rest) {
  if (name.length < W.name) return [fit(pad(name, W.name) + rest)];
  return [fit(name), fit(' '.repeat(W.name) + rest)];
}

/** The figure columns of one case. */
export function figureCells(c) {
  const s = c.summary;
  if (c.error !== null && s.n === 0) return { median: 'error', p99: '', rate: '', samples: '', spread: c.error };
  if (c.kind === 'value') {
    return { median: formatBytes(s.median), p99: '', rate: '', samples: `${s.n}`, spread: `${formatBytes(s.min)}–${formatBytes(s.max)}` };
  }
  const samples = c.batch > 1 ? `${s.n}×${c.batch}` : `${s.n}`;
  const finite = (s.roundMedians ?? []).filter((m) => Number.isFinite(m));
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const range = (fmt, a = lo, b = hi) => (finite.length > 1 ? ` · ${fmt(a)}–${fmt(b)}` : '');
  if (c.kind === 'latency') {
    return { median: formatTime(s.median), p99: formatTime(s.p99), rate: '', samples, spread: `±${formatPercent(s.rsd)}${range(formatTime)}` };
  }
  const unit = shortUnit(c.unit);
  return {
    median: `${formatTime(s.median)}/${unit}`,
    p99: '',
    rate: formatRate(ratePerSecond(s.median), unit),
    samples,
    // slowest round first: the rate of the longest median
    spread: `±${formatPercent(s.rsd)}${range((m) => formatRate(ratePerSecond(m), '').replace('/s', '').trim(), hi, lo)}`,
  };
}

/**
 * A warning when other processes kept the cores busy: the load average measured before the
 * run started (the bench's own threads raise the load during the run, so the load at the end
 * says nothing about the others) above half the cores. Cases that spin need a core each and
 * suffer first.
 */
export function busyNote(m) {
  const before = m.loadAverageAtStart?.[0];
  if (!Number.isFinite(before) || before <= m.cpuCount / 2) return null;
  return `note: the machine was busy before the run (load average ${before.toFixed(2)} on ${m.cpuCount} cores): figures that spin (spin floor, byte ring, wait 'spin') suffer first; see each figure's round range`;
}

/** The summary lines: two per headline (its label, then figure vs baseline, ratio, verdict, goal). */
export function summaryLines(result) {
  const rows = headlines(result);
  if (rows.length === 0) return [];
  const lines = ['Summary: the headline figures (ratio = figure / baseline, median of the rounds; range over the rounds)'];
  for (const h of rows) {
    lines.push(fit(`  ${h.label}`));
    const goal = h.goal === null ? '' : ` · ${h.goal.text}: ${h.goal.met === null ? 'not measured' : h.goal.met ? 'met' : 'not met'}`;
    const numbers = h.verdict.kind === 'missing' ? '' : `${h.figure} vs ${h.baseline}: ${h.ratio} (rounds ${h.range}), `;
    lines.push(fit(`      ${numbers}${h.verdict.text}${goal}`));
  }
  return lines;
}

/** Render the whole table as a string. */
export function renderTable(result) {
  const lines = [];
  const byId = new Map(result.cases.map((c) => [c.id, c]));
  const header =
    pad('  figure', W.name) + pad('median', W.median, true) + pad('p99', W.p99, true) + pad('rate', W.rate, true) + pad('samples', W.samples, true) + '  spread · rounds';
  const m = result.machine;
  const load = Array.isArray(m.loadAverageAtStart) && Array.isArray(m.loadAverage) ? ` · load ${m.loadAverageAtStart[0].toFixed(2)} -> ${m.loadAverage[0].toFixed(2)}` : '';
  lines.push(fit(`ringbus bench · ${m.cpuModel} × ${m.cpuCount} · Node ${m.node} · ${result.options.quick ? 'quick' : 'full'} run, ${result.options.rounds} interleaved rounds, ${(result.durationMs / 1000).toFixed(0)} s${load}`));
  const busy = busyNote(m);
  if (busy) lines.push(...wrap(busy));
  const summary = summaryLines(result);
  if (summary.length) lines.push('', ...summary);
  for (const suite of result.suites) {
    lines.push('');
    lines.push(fit(suite.title));
    if (suite.skipped !== null) {
      lines.push(...wrap(suite.error ? `  error: ${suite.error}` : `  skipped: ${suite.skipped}`));
      continue;
    }
    lines.push(header);
    const ratiosOf = new Map();
    for (const r of result.ratios.filter((r) => r.suite === suite.name)) {
      if (!ratiosOf.has(r.of)) ratiosOf.set(r.of, []);
      ratiosOf.get(r.of).push(r);
    }
    for (const c of result.cases.filter((c) => c.suite === suite.name)) {
      const f = figureCells(c);
      const numbers = pad(f.median, W.median, true) + pad(f.p99, W.p99, true) + pad(f.rate, W.rate, true) + pad(f.samples, W.samples, true);
      if (f.median === 'error') {
        lines.push(...row(`  ${c.name}`, numbers), ...wrap(`      error: ${c.error}`));
      } else {
        lines.push(...row(`  ${c.name}`, `${numbers}  ${f.spread}`));
      }
      const options = optionsText(c.options);
      if (options !== null) lines.push(...wrap(`      options: ${options}`));
      for (const r of ratiosOf.get(c.id) ?? []) lines.push(...ratioLines(r, byId));
      ratiosOf.delete(c.id);
    }
    // Ratios whose figure is not in this run (filtered out, or errored).
    for (const list of ratiosOf.values()) for (const r of list) lines.push(...ratioLines(r, byId, true));
  }
  lines.push('');
  lines.push('Ratios: figure / baseline, both measured in this run. The value is the median of the round-by-round ratios (in each');
  lines.push('round the two sides ran next to each other); the range is their spread over the rounds. A range that spans 1× is');
  lines.push('"no clear difference". Time and memory ratios: lower is better; rate ratios: higher is better. Spread: the median');
  lines.push('absolute deviation of the samples, then the range of the round medians.');
  return lines.join('\n');
}

/** `text` broken at spaces into lines of at most WIDTH columns (continuations indented like the first). */
function wrap(text) {
  const lead = /^ */.exec(text)[0];
  const out = [];
  let line = lead;
  for (const word of text.trim().split(/ +/)) {
    if (line.trim() === '') line = lead + word;
    else if (line.length + 1 + word.length <= WIDTH) line += ` ${word}`;
    else {
      out.push(line);
      line = `${lead}  ${word}`;
    }
  }
  out.push(line);
  return out.map(fit);
}

/** How a ratio is named under its figure: '/ baseline' (the figure is the row above). */
function ratioLabel(r, standalone = false) {
  return standalone ? `    ${r.label}` : `    ↳ ${r.label.replace(/^.*? \/ /, '/ ')}`;
}

function ratioLines(r, byId, standalone = false) {
  const label = ratioLabel(r, standalone);
  if (r.missing.length > 0) {
    const why = r.missing.map((id) => (byId.get(id)?.error ? `${id} failed` : `${id} not in this run`)).join(', ');
    return row(label, pad('—', W.median, true) + `  (${why})`);
  }
  const range = r.perRound.length > 1 ? `rounds ${formatRatio(r.low)}–${formatRatio(r.high)}` : `${r.perRound.length} round`;
  const verdict = verdictOf(r);
  const goal = goalOf(r);
  const judged = verdict.kind === 'neutral' ? 'no clear difference' : `${r.better} is better`;
  const goalText = goal === null ? '' : `, ${goal.text.replace(/ \(.*\)$/, '')}: ${goal.met ? 'met' : 'not met'}`;
  return row(label, pad(formatRatio(r.value), W.median, true) + `  ${range}, ${judged}${goalText}`);
}
