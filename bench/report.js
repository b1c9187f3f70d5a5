// The HTML report (bench/results/report.html): one self-contained file, no script, no network.
// First the summary (every headline ratio with its figure, baseline, verdict and goal), then per
// suite bar charts (inline SVG, logarithmic axis centred on 1×) of every ratio with its
// round-by-round range as a whisker, then the table of figures with their sample counts, spread
// and the layer options each ran with.

import { busyNote, figureCells } from './table.js';
import { formatRatio } from './format.js';
import { headlines, optionsText, verdictOf } from './summary.js';

/** An axis label: as few digits as the tick needs (`0.1×`, `2×`, `30×`). */
export function formatTick(v) {
  return `${Number(v.toPrecision(2))}×`;
}

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/** Tick values for a log axis covering [lo, hi]: 1-2-5 steps, thinned when the span is wide. */
export function logTicks(lo, hi) {
  const ticks = [];
  const span = Math.log10(hi) - Math.log10(lo);
  const steps = span > 3 ? [1] : span > 1.5 ? [1, 3] : [1, 2, 5];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of steps) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

/**
 * One horizontal bar chart of `ratios` (computed ratios with value, low, high). Bars start at
 * 1× (the baseline) and grow right (above) or left (below); the axis is logarithmic so that
 * 2× and 0.5× look equally far from the baseline.
 */
export function ratioChart(ratios, { title, note }) {
  const shown = ratios.filter((r) => Number.isFinite(r.value) && r.value > 0);
  if (shown.length === 0) return '';
  const labelW = 420;
  const plotW = 440;
  const rowH = 26;
  const top = 34;
  const height = top + shown.length * rowH + 30;
  const values = shown.flatMap((r) => [r.value, r.low, r.high].filter((v) => Number.isFinite(v) && v > 0));
  let lo = Math.min(1, ...values) / 1.3;
  let hi = Math.max(1, ...values) * 1.3;
  if (hi / lo < 10) {
    const pad = Math.sqrt(10 / (hi / lo));
    lo /= pad;
    hi *= pad;
  }
  const x = (v) => labelW + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  const parts = [];
  parts.push(`<text x="0" y="16" class="title">${esc(title)}</text>`);
  if (note) parts.push(`<text x="${labelW + plotW}" y="16" class="note" text-anchor="end">${esc(note)}</text>`);
  for (const t of logTicks(lo, hi)) {
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${top - 6}" y2="${height - 24}" class="${t === 1 ? 'one' : 'grid'}"/>`);
    parts.push(`<text x="${x(t)}" y="${height - 8}" class="tick" text-anchor="middle">${esc(formatTick(t))}</text>`);
  }
  shown.forEach((r, i) => {
    const y = top + i * rowH;
    const a = x(Math.min(1, r.value));
    const b = x(Math.max(1, r.value));
    // Coloured only when the rounds agree: a range that spans 1× is no clear difference (grey).
    const verdict = verdictOf(r).kind;
    const cls = verdict === 'better' ? 'bar good' : verdict === 'neutral' ? 'bar neutral' : 'bar';
    parts.push(`<text x="${labelW - 8}" y="${y + 15}" class="label" text-anchor="end">${esc(r.label)}</text>`);
    parts.push(`<rect x="${a}" y="${y + 4}" width="${Math.max(1, b - a)}" height="${rowH - 10}" class="${cls}"><title>${esc(`${r.label}: ${formatRatio(r.value)} (rounds ${formatRatio(r.low)}–${formatRatio(r.high)}), ${verdictOf(r).text}`)}</title></rect>`);
    if (Number.isFinite(r.low) && Number.isFinite(r.high) && r.high > r.low) {
      const my = y + rowH / 2 - 1;
      parts.push(`<line x1="${x(r.low)}" x2="${x(r.high)}" y1="${my}" y2="${my}" class="whisker"/>`);
      parts.push(`<line x1="${x(r.low)}" x2="${x(r.low)}" y1="${my - 5}" y2="${my + 5}" class="whisker"/>`);
      parts.push(`<line x1="${x(r.high)}" x2="${x(r.high)}" y1="${my - 5}" y2="${my + 5}" class="whisker"/>`);
    }
    // The value sits right of the bar, its whisker and the 1x line: never on them, and never
    // over the labels on the left.
    const tx = Math.max(b, Number.isFinite(r.high) ? x(r.high) : b) + 6;
    parts.push(`<text x="${tx}" y="${y + 15}" class="value">${esc(formatRatio(r.value))}</text>`);
  });
  const width = labelW + plotW + 60;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg>`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #1b1f24; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #d0d7de; }
.meta { color: #57606a; } .skipped { color: #9a6700; } .error { color: #cf222e; }
table { border-collapse: collapse; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
td, th { padding: 3px 10px; text-align: right; border-bottom: 1px solid #eaeef2; } td:first-child, th:first-child { text-align: left; }
svg { display: block; margin: 12px 0 20px; } svg text { font: 12px system-ui, sans-serif; fill: #1b1f24; }
svg .title { font-weight: 600; font-size: 13px; } svg .note, svg .tick { fill: #57606a; font-size: 11px; }
svg .grid { stroke: #eaeef2; } svg .one { stroke: #57606a; stroke-dasharray: 3 2; }
svg .bar { fill: #d4a72c; } svg .bar.good { fill: #2da44e; } svg .bar.neutral { fill: #afb8c1; } svg .whisker { stroke: #1b1f24; stroke-width: 1.2; }
td.num { white-space: nowrap; } td.options { text-align: left; color: #57606a; font-size: 12px; }
#summary td, #summary th { text-align: left; } #summary td.num { text-align: right; } #summary td.verdict { white-space: nowrap; }
th.options { text-align: left; }
.better { color: #1a7f37; } .worse { color: #9a6700; } .neutral { color: #57606a; } .missing { color: #57606a; font-style: italic; }
.met { color: #1a7f37; font-weight: 600; } .unmet { color: #cf222e; font-weight: 600; }
svg .value { font-weight: 600; }
`;

/** The summary table: every headline ratio, its figure and baseline, the ratio, the verdict, the goal. */
export function summarySection(result) {
  const rows = headlines(result);
  if (rows.length === 0) return '';
  const out = ['<section id="summary"><h2>Summary</h2>'];
  out.push('<p class="meta">The headline figures of this run: ratio = figure / baseline, the median of the round-by-round ratios, with their range over the rounds.</p>');
  out.push('<table><tr><th>figure</th><th>value</th><th>baseline</th><th>ratio</th><th>rounds</th><th>verdict</th><th>goal</th></tr>');
  for (const h of rows) {
    const goal = h.goal === null ? '' : `${esc(h.goal.text)}: <span class="${h.goal.met ? 'met' : 'unmet'}">${h.goal.met === null ? 'not measured' : h.goal.met ? 'met' : 'not met'}</span>`;
    out.push(
      `<tr><td>${esc(h.label)}</td><td class="num">${esc(h.figure)}</td><td class="num">${esc(h.baseline)}</td><td class="num">${esc(h.ratio)}</td>` +
        `<td class="num">${esc(h.range)}</td><td class="verdict ${h.verdict.kind}">${esc(h.verdict.text)}</td><td>${goal}</td></tr>`,
    );
  }
  out.push('</table></section>');
  return out.join('\n');
}

/** The complete report page for a results document (see run.js `assemble`). */
export function renderReport(result) {
  const m = result.machine;
  const out = [];
  out.push(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ringbus bench ${esc(result.startedAt)}</title><style>${STYLE}</style></head><body>`);
  out.push(`<h1>ringbus bench</h1>`);
  out.push(
    `<p class="meta">${esc(result.startedAt)} · ${esc(m.cpuModel)} × ${m.cpuCount} · ${esc(m.platform)} · Node ${esc(m.node)} · ringbus ${esc(result.ringbusVersion)} · ` +
      `${result.options.quick ? 'quick' : 'full'} run: ${result.options.rounds} interleaved rounds of ${result.options.timeMsPerCaseRound} ms per case · took ${(result.durationMs / 1000).toFixed(0)} s` +
      `${result.options.filters.length ? ` · filter ${esc(result.options.filters.join(', '))}` : ''}</p>`,
  );
  const busy = busyNote(m);
  if (busy) out.push(`<p class="skipped">${esc(busy)}</p>`);
  out.push(summarySection(result));
  out.push(
    `<p>Each bar is a ratio of two figures measured in this run, the median of their round-by-round ratios; the whisker spans the ratios of the individual rounds. ` +
      `The dashed line is 1×, the baseline. Green: on the good side of the baseline (faster for times, more for rates) in every round; ` +
      `grey: the rounds disagree (their range spans 1×), no clear difference; amber: on the other side.</p>`,
  );
  for (const suite of result.suites) {
    out.push(`<h2 id="suite-${esc(suite.name)}">${esc(suite.title)}</h2>`);
    if (suite.skipped !== null) {
      out.push(suite.error ? `<p class="error">error: ${esc(suite.error)}</p>` : `<p class="skipped">skipped: ${esc(suite.skipped)}</p>`);
      continue;
    }
    const ratios = result.ratios.filter((r) => r.suite === suite.name);
    const lower = ratios.filter((r) => r.better === 'lower');
    const rates = ratios.filter((r) => r.better !== 'lower');
    out.push(ratioChart(lower, { title: 'time (or memory) relative to the baseline', note: 'lower is better' }));
    out.push(ratioChart(rates, { title: 'rate relative to the baseline', note: 'higher is better' }));
    const missing = ratios.filter((r) => r.missing.length > 0);
    if (missing.length) {
      out.push(`<p class="meta">not computed: ${missing.map((r) => `${esc(r.label)} (${esc(r.missing.join(', '))} not measured)`).join('; ')}</p>`);
    }
    out.push('<table><tr><th>figure</th><th class="options">options</th><th>median</th><th>p99</th><th>rate</th><th>samples</th><th>spread · rounds</th></tr>');
    for (const c of result.cases.filter((c) => c.suite === suite.name)) {
      const f = figureCells({ ...c, samples: undefined });
      const cls = c.error ? ' class="error"' : '';
      const options = optionsText(c.options) ?? '';
      out.push(
        `<tr${cls}><td>${esc(c.name)}</td><td class="options">${esc(options)}</td><td class="num">${esc(f.median)}</td><td class="num">${esc(f.p99)}</td>` +
          `<td class="num">${esc(f.rate)}</td><td class="num">${esc(f.samples)}</td><td class="num">${esc(c.error ?? f.spread)}</td></tr>`,
      );
    }
    out.push('</table>');
  }
  out.push(`<p class="meta">Samples are milliseconds per operation; a batched case times many operations per sample and records their mean, so its p99 is of batch means. The raw summaries are in latest.json.</p>`);
  out.push('</body></html>\n');
  return out.join('\n');
}
