// `npm run bench` (and `ringbus bench`): run the suites interleaved, print the table of figures
// and ratios, write bench/results/latest.json and bench/results/report.html (under the current
// directory unless --out says otherwise).

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { USAGE, parseArgs } from './args.js';
import { runSuites } from './harness.js';
import { machineInfo } from './machine.js';
import { createProgress } from './progress.js';
import { renderReport } from './report.js';
import { computeRatio, normalizeTerms, summarize } from './stats.js';
import { SUITES } from './suites/index.js';
import { renderTable } from './table.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Run the benchmark with command-line `argv` (flags only). Resolves with the process exit
 * code: 0, or 1 when a case or a suite failed (its error is in the table and the JSON; a
 * suite skipped because its part is absent is not a failure), 2 for bad flags.
 */
export async function main(argv, { suites = SUITES, stdout = process.stdout, stderr = process.stderr } = {}) {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    stderr.write(`${err.message}\n`);
    return 2;
  }
  if (opts.help) {
    stdout.write(USAGE);
    return 0;
  }
  // Relative to the current directory (npm run bench runs in the repository; `ringbus bench` from an
  // installed package must not write into node_modules).
  const outDir = path.resolve(opts.out ?? path.join('bench', 'results'));
  const progress = createProgress({ stream: stderr });
  const startedAt = new Date();
  // The load before any suite starts: the bench's own threads raise it during the run, so only
  // this figure tells whether other processes were busy (see busyNote in table.js).
  const loadAtStart = machineInfo().loadAverage;
  let run;
  try {
    run = await runSuites(suites, { ...opts, progress });
  } finally {
    progress.done();
  }
  const result = await assemble(run, opts, startedAt, progress.elapsed(), suites);
  // Load average before and after: other processes share these cores and move the figures.
  result.machine.loadAverageAtStart = loadAtStart;

  await mkdir(outDir, { recursive: true });
  const jsonPath = path.join(outDir, 'latest.json');
  const htmlPath = path.join(outDir, 'report.html');
  await writeFile(jsonPath, JSON.stringify(result, null, 2) + '\n');
  await writeFile(htmlPath, renderReport(result));

  // Everything for stderr is said before the table, so that nothing follows it there.
  if (result.suites.length === 0) stderr.write(`bench: no suite matched the filter ${opts.filters.join(', ')}\n`);
  if (opts.json) stdout.write(JSON.stringify(result, null, 2) + '\n');
  else stdout.write(`${renderTable(result)}\n\nwrote ${jsonPath}\n      ${htmlPath}\n`);
  return result.cases.some((c) => c.error !== null) || result.suites.some((s) => s.error !== null) ? 1 : 0;
}

/** The results document: machine, options, every case's summary (pooled and per round), ratios. */
export async function assemble(run, opts, startedAt, durationMs, suites) {
  const summaries = new Map(run.cases.map((c) => [c.id, c.summary]));
  const ratios = [];
  for (const suite of suites) {
    for (const def of suite.ratios ?? []) {
      const ofSuite = def.of.split('/')[0];
      const involved = [def.of, ...normalizeTerms(def.over).map((t) => t.id)];
      // A ratio belongs in the results when its figure's suite ran (or was skipped: then it says why).
      if (!run.suites.some((s) => s.name === ofSuite)) continue;
      if (!run.cases.some((c) => c.id === def.of) && run.suites.find((s) => s.name === ofSuite)?.skipped === null) {
        continue; // its figure was filtered out
      }
      ratios.push({ suite: suite.name, ...computeRatio(def, summaries), involved });
    }
  }
  let version = 'unknown';
  try {
    version = JSON.parse(await readFile(path.join(here, '..', 'package.json'), 'utf8')).version;
  } catch {
    // a copy of bench/ without its package: the version is just unknown
  }
  return {
    tool: 'ringbus bench',
    ringbusVersion: version,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(durationMs),
    machine: machineInfo(),
    options: { quick: opts.quick, rounds: opts.rounds, timeMsPerCaseRound: opts.timeMs, warmupMs: opts.warmupMs, filters: opts.filters },
    suites: run.suites.map((s) => ({ name: s.name, title: s.title, skipped: s.skipped, error: s.error })),
    cases: run.cases.map((c) => ({
      id: c.id,
      suite: c.suite,
      name: c.name,
      kind: c.kind,
      unit: c.unit,
      message: c.message,
      options: c.options ?? null,
      batch: c.batch,
      error: c.error,
      summary: c.summary,
      ratePerSecond: c.kind === 'value' || !(c.summary.median > 0) ? null : 1000 / c.summary.median,
      perRound: c.samples.map((r) => {
        const s = summarize(r);
        return { n: s.n, median: s.median, p99: s.p99, min: s.min, max: s.max };
      }),
    })),
    ratios,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  // Ctrl-C: exit through the 'exit' handlers, which stop the redis-server the Redis suite started.
  process.once('SIGINT', () => process.exit(130));
  process.exitCode = await main(process.argv.slice(2));
}
