// The summary that opens the table and the report: every headline ratio (a ratio definition
// of a suite with `headline: true`, so a suite added later joins by marking its own ratios),
// its figure and baseline, the ratio with its round range, a verdict, and the goal an issue set
// (`goal: { value, source }`), with whether the run meets it.
//
// A verdict is only as strong as the rounds: a ratio whose round-by-round range spans 1× is
// "no clear difference", whatever its median says.

import { formatBytes, formatRate, formatRatio, formatTime, shortUnit } from './format.js';
import { ratePerSecond } from './stats.js';

/**
 * The verdict of a computed ratio: `{ kind, text }` with kind 'better' (on the good side of the
 * baseline), 'worse', 'neutral' (no clear difference) or 'missing'.
 */
export function verdictOf(r) {
  if (r.missing.length > 0 || !Number.isFinite(r.value)) return { kind: 'missing', text: 'not measured' };
  const spans = r.perRound.length > 1 ? r.low <= 1 && r.high >= 1 : r.value === 1;
  if (spans) return { kind: 'neutral', text: 'no clear difference' };
  const up = r.value > 1;
  const factor = formatRatio(up ? r.value : 1 / r.value);
  if (r.kind === 'tail') return { kind: 'neutral', text: `p99 ${formatRatio(r.value)} the median` }; // judged by its goal
  const words = r.kind === 'rate' ? (up ? 'more' : 'less') : r.kind === 'value' ? (up ? 'larger' : 'smaller') : up ? 'slower' : 'faster';
  const good = r.better === 'higher' ? up : !up;
  return { kind: good ? 'better' : 'worse', text: `${factor} ${words}` };
}

/**
 * The goal of a ratio as text and whether the run meets it (null when none is set). A goal is
 * on the ratio (`{ value }`), or on the figure's own rate where an issue set an absolute one
 * (`{ rate, unit }`, e.g. 5 M deliveries/s: checked against the figure's median).
 */
export function goalOf(r) {
  if (r.goal === null || r.goal === undefined) return null;
  if (r.goal.rate !== undefined) {
    const text = `goal ≥ ${formatRate(r.goal.rate, r.goal.unit)}${r.goal.source ? ` (${r.goal.source})` : ''}`;
    if (!Number.isFinite(r.figureMs)) return { text, met: null };
    return { text, met: ratePerSecond(r.figureMs) >= r.goal.rate };
  }
  const sign = r.better === 'higher' ? '≥' : '≤';
  const text = `goal ${sign} ${Number(r.goal.value.toPrecision(3))}×${r.goal.source ? ` (${r.goal.source})` : ''}`;
  if (!Number.isFinite(r.value)) return { text, met: null };
  const met = r.better === 'higher' ? r.value >= r.goal.value : r.value <= r.goal.value;
  return { text, met };
}

/** One side of a ratio (a case median, or the baseline's sum) formatted for its kind. */
function side(ms, ratio, caseOf) {
  if (!Number.isFinite(ms)) return '—';
  if (ratio.kind === 'value') return formatBytes(ms);
  const c = caseOf;
  if (ratio.kind === 'rate') return formatRate(ratePerSecond(ms), shortUnit(c?.unit));
  return formatTime(ms);
}

/**
 * The summary rows of a results document, in suite order: label, figure, baseline, ratio,
 * range, verdict, goal. A headline whose suite was skipped says why.
 */
export function headlines(result) {
  const byId = new Map(result.cases.map((c) => [c.id, c]));
  const suites = new Map(result.suites.map((s) => [s.name, s]));
  return result.ratios
    .filter((r) => r.headline)
    .map((r) => {
      const suite = suites.get(r.suite);
      const verdict = verdictOf(r);
      if (verdict.kind === 'missing' && suite && suite.skipped !== null) {
        verdict.text = suite.error ? `not measured (suite failed: ${suite.error})` : `not measured (suite skipped: ${suite.skipped})`;
      } else if (verdict.kind === 'missing') {
        verdict.text = `not measured (${r.missing.map((id) => (byId.get(id)?.error ? `${id} failed` : `${id} not in this run`)).join(', ')})`;
      }
      return {
        label: r.label,
        suite: r.suite,
        figure: side(r.figureMs, r, byId.get(r.of)),
        baseline: side(r.baselineMs, r, byId.get(r.over?.[0]?.id)),
        ratio: formatRatio(r.value),
        range: r.perRound.length > 1 ? `${formatRatio(r.low)}–${formatRatio(r.high)}` : r.perRound.length === 1 ? '1 round' : '—',
        verdict,
        goal: goalOf(r),
      };
    });
}

/** The options a case ran with, as text (`capacity 1000, full 'wait'`); null when it uses no layer. */
export function optionsText(options) {
  if (options === null || options === undefined) return null;
  const entries = Object.entries(options);
  if (entries.length === 0) return 'defaults';
  return entries
    .map(([k, v]) => {
      if (typeof v === 'string') return `${k} '${v}'`;
      if (typeof v === 'number') return `${k} ${k === 'memory' || k === 'maxMessageSize' ? formatBytes(v) : String(v)}`;
      return `${k} ${JSON.stringify(v)}`;
    })
    .join(', ');
}
