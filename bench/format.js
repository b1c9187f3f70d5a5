// Number formatting shared by the table and the HTML report.

/** A duration given in milliseconds, in the unit that reads best (ns, µs, ms, s). */
export function formatTime(ms) {
  if (!Number.isFinite(ms)) return '—';
  const ns = ms * 1e6;
  if (ns < 1000) return `${ns.toPrecision(3)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toPrecision(3)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toPrecision(3)} ms`;
  return `${(ns / 1e9).toPrecision(3)} s`;
}

/** A rate in operations per second, with k/M/G. */
export function formatRate(perSecond, unit = 'op') {
  if (!Number.isFinite(perSecond)) return '—';
  const scaled =
    perSecond >= 1e9 ? `${(perSecond / 1e9).toPrecision(3)} G` : perSecond >= 1e6 ? `${(perSecond / 1e6).toPrecision(3)} M` : perSecond >= 1e3 ? `${(perSecond / 1e3).toPrecision(3)} k` : `${perSecond.toPrecision(3)} `;
  return `${scaled}${unit}/s`;
}

/** A byte count with B/KiB/MiB. */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return '—';
  const abs = Math.abs(bytes);
  if (abs < 1024) return `${bytes.toFixed(0)} B`;
  if (abs < 1024 * 1024) return `${(bytes / 1024).toPrecision(3)} KiB`;
  return `${(bytes / 1024 / 1024).toPrecision(3)} MiB`;
}

/** A ratio, e.g. `14.2×`, `0.083×`. */
export function formatRatio(r) {
  if (!Number.isFinite(r)) return '—';
  if (r >= 100) return `${r.toFixed(0)}×`;
  if (r >= 0.1) return `${r.toPrecision(3)}×`;
  return `${r.toPrecision(2)}×`;
}

/** Percent with one decimal. */
export function formatPercent(p) {
  return Number.isFinite(p) ? `${p.toFixed(1)}%` : '—';
}

/** The short unit of a case for rates ('msg', 'rt', ...). */
export function shortUnit(unit) {
  return { message: 'msg', 'round trip': 'rt', delivery: 'deliv', record: 'rec', 'send + receive': 'op' }[unit] ?? 'op';
}
