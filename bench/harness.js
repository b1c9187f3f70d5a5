// The runner: opens the selected suites, then measures every case in rounds, interleaved.
//
// A round visits every case once, each for a short time budget; the next round visits them
// again in the reverse order (A B C, C B A, A B C, ...). So the two sides of every ratio are
// measured next to each other, several times, and a slow drift of the machine (another
// process, the clock, the heat) falls on both sides alike instead of on whichever ran last.
// Each round's samples are kept apart, so that ratios can be computed round by round.
//
// Suite contract (one file per suite under bench/suites/, listed in bench/suites/index.js):
//
//   export default {
//     name: 'floor',                         // for --filter and in case ids ('floor/spin-rtt')
//     title: 'Floor: ...',                   // printed above its table
//     ratios: [{ label, of, over, kind,      // see stats.js computeRatio
//                headline, goal }],         // headline: true puts it in the summary that opens the
//                                           // report; goal: { value, source } the target an issue set
//     async open(ctx) {                      // ctx: { quick, note(text) }
//       return { skipped: 'why' }            // or:
//       return { cases: [Case, ...], close: async () => {} };
//     },
//   };
//
//   Case = {
//     id, name,                 // 'spin-rtt', 'round trip, busy spin'
//     kind,                     // 'latency' | 'rate' | 'value'
//     unit,                     // what one operation is: 'round trip', 'message', 'delivery', 'byte'
//     message,                  // benchmark message kind, when there is one
//     batch,                    // operations per call of run() (default 1)
//     options,                  // the layer options it runs with (shown next to its name), or omitted
//     async open(round) {       // per round: start workers etc.; returns a handle:
//       return { run, async, close }        // run() does `batch` operations (sync, or async if async: true)
//       // or { measure(timeMs, warmupMs) -> samples[], close }  for figures tinybench cannot time
//     },
//   }
//
// Samples are milliseconds per operation (for 'value' cases: the value itself).

import { Bench } from 'tinybench';
import { summarizeRounds } from './stats.js';

/** Does filter `f` name suite `name` ('floor', or 'floor/<case part>')? */
function namesSuite(f, name) {
  return name.includes(f) || f.startsWith(`${name}/`);
}

/**
 * Is suite `name` selected by `filters` (substrings; empty = everything)? A filter that names
 * no suite at all is a case filter, so it opens every suite.
 */
export function selectsSuite(filters, name, allNames) {
  if (filters.length === 0) return true;
  return filters.some((f) => namesSuite(f, name) || !allNames.some((n) => namesSuite(f, n)));
}

/** Is case `caseId` of suite `suiteName` selected? 'floor' selects all its cases, 'floor/spin' or 'spin' those whose id contains it. */
export function selectsCase(filters, suiteName, caseId) {
  if (filters.length === 0) return true;
  const full = `${suiteName}/${caseId}`;
  return filters.some((f) => full.includes(f) || (namesSuite(f, suiteName) && !f.includes('/')));
}

/**
 * Run `suites` (modules as above) and return `{ suites: [...], cases: [...] }` with every
 * case's samples per round and its summary. `options`: rounds, timeMs, warmupMs, quick,
 * filters, progress.
 */
export async function runSuites(suites, options) {
  const { rounds, timeMs, warmupMs, quick, filters, progress } = options;
  const opened = [];
  const suiteResults = [];
  for (const suite of suites) {
    if (!selectsSuite(filters, suite.name, suites.map((s) => s.name))) continue;
    progress.step(`opening suite ${suite.name}`);
    let result;
    let error = null;
    try {
      result = await suite.open({ quick, note: (t) => progress.note(`  ${suite.name}: ${t}`) });
    } catch (err) {
      // Not a missing part (that is `skipped`): a failure, which fails the run.
      error = errorText(err);
      result = { skipped: `failed to open: ${error}` };
    }
    if (result.skipped !== undefined) {
      progress.note(`${suite.name}: skipped: ${result.skipped}`);
      suiteResults.push({ name: suite.name, title: suite.title, skipped: result.skipped, error, ratios: suite.ratios ?? [] });
      continue;
    }
    const cases = result.cases.filter((c) => selectsCase(filters, suite.name, c.id));
    opened.push({ suite, result, cases });
    suiteResults.push({ name: suite.name, title: suite.title, skipped: null, error: null, ratios: suite.ratios ?? [] });
  }

  const entries = opened.flatMap(({ suite, cases }) =>
    cases.map((c) => ({ suite: suite.name, def: c, id: `${suite.name}/${c.id}`, rounds: [], error: null })),
  );

  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? entries : [...entries].reverse();
    for (const entry of order) {
      if (entry.error !== null) continue;
      progress.step(`round ${round + 1}/${rounds}  ${entry.suite} › ${entry.def.name}`);
      try {
        entry.rounds.push(await measureOnce(entry.def, round, { timeMs, warmupMs }));
      } catch (err) {
        entry.error = errorText(err);
        progress.note(`${entry.id}: error: ${entry.error}`);
      }
    }
  }

  for (const { suite, result } of opened) {
    try {
      await result.close?.();
    } catch (err) {
      progress.note(`${suite.name}: close failed: ${errorText(err)}`);
    }
  }

  const cases = entries.map((e) => ({
    id: e.id,
    suite: e.suite,
    name: e.def.name,
    kind: e.def.kind,
    unit: e.def.unit,
    message: e.def.message ?? null,
    options: e.def.options ?? null,
    batch: e.def.batch ?? 1,
    error: e.error,
    samplesPerRound: e.rounds.map((r) => r.length),
    summary: summarizeRounds(e.rounds),
    samples: e.rounds,
  }));
  return { suites: suiteResults, cases };
}

/** One round of one case: open it, take samples for the time budget, close it. */
async function measureOnce(def, round, { timeMs, warmupMs }) {
  const batch = def.batch ?? 1;
  const handle = await def.open(round);
  // A case that hangs (a worker that died, a server that went away) must not hang the run.
  const limitMs = Math.max(30_000, 40 * (timeMs + warmupMs));
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result after ${limitMs} ms`)), limitMs);
  });
  try {
    const work = handle.measure ? handle.measure(timeMs, warmupMs) : sample(handle, def.name, batch, timeMs, warmupMs);
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    await handle.close?.();
  }
}

/** Time `handle.run` with tinybench; every sample is the mean time per operation of one call. */
async function sample(handle, name, batch, timeMs, warmupMs) {
  const bench = new Bench({
    // The time budget decides how many samples a case gets; the minimum counts are low so
    // that a case whose calls turn slow (a spinning pair on an oversubscribed machine) still
    // ends soon after its budget.
    time: timeMs,
    iterations: 2,
    warmupTime: warmupMs,
    warmupIterations: 1,
    retainSamples: true,
    throws: true,
  });
  const run = handle.run;
  const fn = handle.async
    ? async () => {
        const t0 = performance.now();
        await run();
        const dt = performance.now() - t0;
        return { overriddenDuration: dt / batch, overriddenIterationCost: dt };
      }
    : () => {
        const t0 = performance.now();
        run();
        const dt = performance.now() - t0;
        return { overriddenDuration: dt / batch, overriddenIterationCost: dt };
      };
  bench.add(name, fn, { async: Boolean(handle.async) });
  await bench.run();
  const result = bench.tasks[0].result;
  if (result.state === 'errored') throw result.error;
  if (result.state !== 'completed' && result.state !== 'aborted-with-statistics') {
    throw new Error(`tinybench ended the task in state ${result.state}`);
  }
  return Array.from(result.latency.samples ?? []);
}

/** One line naming an error (its code when it has one). */
export function errorText(err) {
  if (err instanceof Error) return err.code ? `${err.code}: ${err.message}` : err.message;
  return String(err);
}
