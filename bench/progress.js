// The progress line: which suite and case is running and how long the run has taken, so a
// person watching knows it is alive. On a terminal it is one line rewritten in place (and
// ticks every second); otherwise (CI logs) one line per case. It goes to stderr, so that
// `--json` output on stdout stays clean.

/** Create a progress reporter writing to `stream` (default: process.stderr). */
export function createProgress({ stream = process.stderr, enabled = true } = {}) {
  const started = performance.now();
  const tty = Boolean(stream.isTTY);
  let current = '';
  let caseStarted = started;
  let timer = null;

  const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
  const line = () => `${current}  (case ${seconds(performance.now() - caseStarted)}, total ${seconds(performance.now() - started)})`;
  const draw = () => {
    if (!enabled || !tty) return;
    const text = line();
    const width = stream.columns ? stream.columns - 1 : 120;
    stream.write(`\r\x1b[2K${text.length > width ? text.slice(0, width) : text}`);
  };

  return {
    /** Show that `text` (e.g. "round 1/3  floor › spin round trip") has started. */
    step(text) {
      current = text;
      caseStarted = performance.now();
      if (!enabled) return;
      if (tty) {
        draw();
        if (timer === null) {
          timer = setInterval(draw, 1000);
          timer.unref();
        }
      } else {
        stream.write(`[bench ${seconds(caseStarted - started)}] ${text}\n`);
      }
    },
    /** A message that must stay on screen (a skipped suite, an error). */
    note(text) {
      if (!enabled) return;
      if (tty) stream.write('\r\x1b[2K');
      stream.write(`${text}\n`);
      if (tty && current) draw();
    },
    /** Clear the line and stop ticking. */
    done() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      if (enabled && tty) stream.write('\r\x1b[2K');
    },
    /** Milliseconds since the run started. */
    elapsed() {
      return performance.now() - started;
    },
  };
}
