// Summary statistics of benchmark samples and the ratios between two figures of the same run.
//
// Every figure is kept as samples of "milliseconds per operation" (a round trip, a message, a
// delivery, or for value probes the value itself). A latency is read as the median of those
// samples; a rate is 1000 / median (the median commutes with that monotone transform, so the
// median rate and the rate of the median are the same number). Samples from every round are
// pooled for the p99 and the spread; the headline median is the median of the rounds' medians,
// and each round's own median is kept so that a ratio can be
// computed round by round, from two sides measured next to each other: a ratio is the median of
// its round-by-round values, and its spread their range.

/** The q-quantile (0..1) of an ascending array, by linear interpolation between order statistics. */
export function quantile(sorted, q) {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (n === 1) return sorted[0];
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Median of an unsorted array (NaN when empty). */
export function median(values) {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

/**
 * Summarise samples: count, median, p99, mean, min, max, standard deviation and the median
 * absolute deviation (unscaled). `rsd` is the MAD relative to the median, in percent: the
 * robust spread the table prints.
 */
export function summarize(samples) {
  const sorted = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) {
    return { n: 0, median: NaN, p99: NaN, mean: NaN, min: NaN, max: NaN, sd: NaN, mad: NaN, rsd: NaN };
  }
  const mean = sorted.reduce((s, x) => s + x, 0) / n;
  const variance = n > 1 ? sorted.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1) : 0;
  const med = quantile(sorted, 0.5);
  const mad = quantile(
    sorted.map((x) => Math.abs(x - med)).sort((a, b) => a - b),
    0.5,
  );
  return {
    n,
    median: med,
    p99: quantile(sorted, 0.99),
    mean,
    min: sorted[0],
    max: sorted[n - 1],
    sd: Math.sqrt(variance),
    mad,
    rsd: med === 0 ? NaN : (100 * mad) / Math.abs(med),
  };
}

/**
 * Summarise one case from its rounds: `rounds` is an array of sample arrays (one per round, in
 * run order). Returns the pooled summary (count, p99, mean, spread over all samples), each
 * round's median, and as `median` the median of the round medians (`pooledMedian` is the
 * median of all samples).
 */
export function summarizeRounds(rounds) {
  const pooled = summarize(rounds.flat());
  const roundMedians = rounds.map((r) => summarize(r).median);
  const finite = roundMedians.filter((m) => Number.isFinite(m));
  // The headline median weighs every round alike: a round in which the operation happened to
  // be fast yields more samples in the same budget, and pooling would let it outvote the others.
  return {
    ...pooled,
    pooledMedian: pooled.median,
    median: finite.length > 0 ? median(finite) : pooled.median,
    rounds: rounds.length,
    roundMedians,
  };
}

/** Operations per second for a per-operation time in milliseconds. */
export function ratePerSecond(msPerOp) {
  return msPerOp > 0 ? 1000 / msPerOp : NaN;
}

/**
 * The baseline of a ratio as a time per operation: the sum of its terms, each a case's median
 * time times its weight (e.g. spin floor + 2 x codec pack+unpack). `pick(summary)` selects the
 * number used from each summary (the case median, or one round's median).
 */
function baselineTime(terms, summaries, pick) {
  let total = 0;
  for (const term of terms) {
    const s = summaries.get(term.id);
    if (s === undefined) return NaN;
    total += term.times * pick(s);
  }
  return total;
}

/**
 * Compute one ratio from the summaries of a run.
 *
 * - kind 'time': figure time / baseline time ("x the floor": 1 means as fast as the floor,
 *   higher is slower); kind 'value' (bytes, ...): figure / baseline the same way;
 * - kind 'rate': figure rate / baseline rate = baseline time / figure time (higher is better);
 * - kind 'tail': a latency case's p99 over its own median (`over` names the same case).
 *
 * `perRound` pairs the two sides round by round (both sides
 * ran in the same round, next to each other); `value` is the median of those, `low`/`high`
 * their range, `ofMedians` the ratio of the two figures' medians. A side that is
 * missing from the run makes the ratio unavailable, with the reason in `missing`.
 */
export function computeRatio(def, summaries) {
  const terms = normalizeTerms(def.over);
  const missing = [def.of, ...terms.map((t) => t.id)].filter((id) => !summaries.has(id) || summaries.get(id).n === 0);
  if (missing.length > 0) {
    return { ...describe(def, terms), value: NaN, ofMedians: NaN, low: NaN, high: NaN, perRound: [], missing, figureMs: NaN, baselineMs: NaN };
  }
  const figure = summaries.get(def.of);
  if (def.kind === 'tail') {
    // The tail of one latency case: its p99 over its median (pooled over the rounds, as the
    // p99 is; one number, no round-by-round pairs).
    const value = figure.p99 / figure.median;
    return { ...describe(def, terms), value, ofMedians: value, low: NaN, high: NaN, perRound: [], missing: [], figureMs: figure.p99, baselineMs: figure.median };
  }
  const ratioOf = (figureTime, base) => (def.kind === 'rate' ? base / figureTime : figureTime / base);
  const baselineMs = baselineTime(terms, summaries, (s) => s.median);
  const ofMedians = ratioOf(figure.median, baselineMs);
  const rounds = Math.min(figure.roundMedians.length, ...terms.map((t) => summaries.get(t.id).roundMedians.length));
  const perRound = [];
  for (let r = 0; r < rounds; r++) {
    const v = ratioOf(figure.roundMedians[r], baselineTime(terms, summaries, (s) => s.roundMedians[r]));
    if (Number.isFinite(v)) perRound.push(v);
  }
  // The headline is the median of the paired, round-by-round ratios (each pair measured next to
  // each other); the ratio of the two printed medians is kept too, for whoever checks the table.
  return {
    ...describe(def, terms),
    value: perRound.length ? median(perRound) : ofMedians,
    ofMedians,
    low: perRound.length ? Math.min(...perRound) : NaN,
    high: perRound.length ? Math.max(...perRound) : NaN,
    perRound,
    missing: [],
    // The two sides' medians (per operation, or the value), for the summary's figure and baseline.
    figureMs: figure.median,
    baselineMs,
  };
}

function describe(def, terms) {
  return {
    label: def.label,
    of: def.of,
    over: terms,
    kind: def.kind,
    better: def.better ?? (def.kind === 'rate' ? 'higher' : 'lower'),
    // Headline figures open the report (see bench/summary.js); `goal` is the target an issue set.
    headline: Boolean(def.headline),
    goal: def.goal ?? null,
  };
}

/** `over` may be one id, or an array of ids and `{ id, times }` terms. */
export function normalizeTerms(over) {
  const list = Array.isArray(over) ? over : [over];
  return list.map((t) => (typeof t === 'string' ? { id: t, times: 1 } : { id: t.id, times: t.times ?? 1 }));
}
