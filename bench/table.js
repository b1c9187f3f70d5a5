// The table printed on stdout: per suite, every figure (median, p99 for latencies, ops/s for
// rates, how many samples and their spread), and under it its ratios to the baselines of the
// same run (value from pooled medians, range from the round-by-round ratios).

import { formatBytes, formatPercent, formatRate, formatRatio, formatTime, shortUnit } from './format.js';
import { ratePerSecond } from './stats.js';

function pad(text, width, right = false) {
  const s = String(text);
  if (s.length >= width) return s;
  return right ? s.padStart(width) : s.padEnd(width);
}

/** The figure columns of one case. */
export function figureCells(c) {
  const s = c.summary;
  if (c.error !== null && s.n === 0) return { median: 'error', p99: '', rate: '', samples: '', spread: c.error };
  if (c.kind === 'value') {
    return { median: formatBytes(s.median), p99: '', rate: '', samples: `${s.n}`, spread: `range ${formatBytes(s.min)}–${formatBytes(s.max)}` };
  }
  const samples = c.batch > 1 ? `${s.n}×${c.batch}` : `${s.n}`;
  const finite = (s.roundMedians ?? []).filter((m) => Number.isFinite(m));
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const range = (fmt, a = lo, b = hi) => (finite.length > 1 ? `, ${finite.length} rounds ${fmt(a)}–${fmt(b)}` : `, ${finite.length} round`);
  if (c.kind === 'latency') {
    return { median: formatTime(s.median), p99: formatTime(s.p99), rate: '', samples, spread: `±${formatPercent(s.rsd)} MAD${range(formatTime)}` };
  }
  const unit = shortUnit(c.unit);
  return {
    median: `${formatTime(s.median)}/${unit}`,
    p99: '',
    rate: formatRate(ratePerSecond(s.median), unit),
    samples,
    // slowest round first: the rate of the longest median
    spread: `±${formatPercent(s.rsd)} MAD${range((m) => formatRate(ratePerSecond(m), '').replace('/s', '').trim(), hi, lo)}`,
  };
}

/**
 * A warning when other processes kept the cores busy during the run (a load average above
 * half the cores at its start or end): cases that spin need a core each and suffer first.
 */
export function busyNote(m) {
  const loads = [m.loadAverageAtStart?.[0], m.loadAverage?.[0]].filter((x) => Number.isFinite(x));
  if (loads.length === 0 || Math.max(...loads) <= m.cpuCount / 2) return null;
  return `note: the machine was busy (load average up to ${Math.max(...loads).toFixed(2)} on ${m.cpuCount} cores): figures that spin (spin floor, byte ring, wait 'spin') suffer first; see each figure's round range`;
}

/** Render the whole table as a string. */
export function renderTable(result) {
  const lines = [];
  const byId = new Map(result.cases.map((c) => [c.id, c]));
  const longest = Math.max(30, ...result.cases.map((c) => c.name.length + 4), ...result.ratios.map((r) => ratioLabel(r).length + 2));
  const W = { name: Math.min(longest, 80), median: 14, p99: 12, rate: 17, samples: 11 };
  const header =
    pad('  figure', W.name) + pad('median', W.median, true) + pad('p99', W.p99, true) + pad('rate', W.rate, true) + pad('samples', W.samples, true) + '  spread';
  const m = result.machine;
  const load = Array.isArray(m.loadAverageAtStart) && Array.isArray(m.loadAverage) ? ` · load ${m.loadAverageAtStart[0].toFixed(2)} -> ${m.loadAverage[0].toFixed(2)}` : '';
  lines.push(`ringbus bench · ${m.cpuModel} × ${m.cpuCount} · Node ${m.node} · ${result.options.quick ? 'quick' : 'full'} run, ${result.options.rounds} interleaved rounds, ${(result.durationMs / 1000).toFixed(0)} s${load}`);
  const busy = busyNote(m);
  if (busy) lines.push(busy);
  for (const suite of result.suites) {
    lines.push('');
    lines.push(suite.title);
    if (suite.skipped !== null) {
      lines.push(suite.error ? `  error: ${suite.error}` : `  skipped: ${suite.skipped}`);
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
      lines.push(
        pad(`  ${c.name}`, W.name) + pad(f.median, W.median, true) + pad(f.p99, W.p99, true) + pad(f.rate, W.rate, true) + pad(f.samples, W.samples, true) + `  ${f.spread}`,
      );
      for (const r of ratiosOf.get(c.id) ?? []) lines.push(ratioLine(r, byId, W));
      ratiosOf.delete(c.id);
    }
    // Ratios whose figure is not in this run (filtered out, or errored).
    for (const list of ratiosOf.values()) for (const r of list) lines.push(ratioLine(r, byId, W, true));
  }
  lines.push('');
  lines.push('Ratios: figure / baseline, both measured in this run. The value is the median of the round-by-round');
  lines.push('ratios (in each round the two sides ran next to each other); the range is their spread over the rounds.');
  lines.push('Time and memory ratios: 1× is the baseline, lower is better. Rate ratios: higher is better.');
  return lines.join('\n');
}

/** How a ratio is named under its figure: '/ baseline' (the figure is the row above). */
function ratioLabel(r, standalone = false) {
  return standalone ? `    ${r.label}` : `    ↳ ${r.label.replace(/^.*? \/ /, '/ ')}`;
}

function ratioLine(r, byId, W, standalone = false) {
  const label = ratioLabel(r, standalone);
  if (r.missing.length > 0) {
    const why = r.missing.map((id) => (byId.get(id)?.error ? `${id} failed` : `${id} not in this run`)).join(', ');
    return pad(label, W.name) + pad('—', W.median, true) + `  (${why})`;
  }
  const range = r.perRound.length > 1 ? `rounds ${formatRatio(r.low)}–${formatRatio(r.high)}` : `${r.perRound.length} round`;
  return pad(label, W.name) + pad(formatRatio(r.value), W.median, true) + `  ${range}, ${r.better} is better`;
}
