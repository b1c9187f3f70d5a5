// Which Python runs the channels_redis side (the bench's Redis suite, the interop tests, the
// Django demo): the interpreter named by RINGBUS_PYTHON, else the first `python3` / `python`
// on PATH that can import the modules asked for. A PATH can hold several Pythons (a pyenv
// shim first, the system one later) and only one of them may have channels_redis, so each
// candidate is asked to import the modules, and the answer says which one was chosen and why
// the others were passed over.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, realpathSync } from 'node:fs';
import path from 'node:path';

/** The names tried in each PATH directory, in order. */
const NAMES = ['python3', 'python'];

const cache = new Map();

/**
 * Find a Python that can `import` every module of `modules`.
 *
 * Returns `{ path, source, tried }` where `path` is the interpreter (null when none fits),
 * `source` says where it came from (`'RINGBUS_PYTHON'` or `'PATH'`), and `tried` lists every
 * candidate passed over with the reason. When RINGBUS_PYTHON is set it is the only candidate:
 * an explicit choice that cannot import the modules is reported, not silently replaced.
 *
 * @param {{ modules?: string[], env?: NodeJS.ProcessEnv }} [options]
 * @returns {{ path: string | null, source: 'RINGBUS_PYTHON' | 'PATH' | null, tried: Array<{ candidate: string, reason: string }>, describe: () => string }}
 */
export function findPython({ modules = ['channels_redis'], env = process.env } = {}) {
  const key = JSON.stringify([modules, env.RINGBUS_PYTHON ?? null, env.PATH ?? '']);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const tried = [];
  const check = (candidate) => {
    const r = spawnSync(candidate, ['-c', modules.map((m) => `import ${m}`).join('; ')], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000, encoding: 'utf8' });
    if (r.status === 0) return true;
    const last = (r.stderr ?? '').trim().split('\n').pop() ?? '';
    tried.push({ candidate, reason: r.error ? r.error.message : last || `exit code ${r.status}` });
    return false;
  };
  let found = { path: null, source: null };
  if (env.RINGBUS_PYTHON) {
    if (check(env.RINGBUS_PYTHON)) found = { path: env.RINGBUS_PYTHON, source: 'RINGBUS_PYTHON' };
  } else {
    const seen = new Set();
    outer: for (const dir of (env.PATH ?? '').split(path.delimiter)) {
      if (dir === '') continue;
      for (const name of NAMES) {
        const candidate = path.join(dir, name);
        let real;
        try {
          accessSync(candidate, constants.X_OK);
          real = realpathSync(candidate);
        } catch {
          continue;
        }
        // A shim (pyenv) resolves to a script that picks its own interpreter: keep it apart by its own path.
        const identity = real.includes(`${path.sep}shims${path.sep}`) ? candidate : real;
        if (seen.has(identity)) continue;
        seen.add(identity);
        if (check(candidate)) {
          found = { path: candidate, source: 'PATH' };
          break outer;
        }
      }
    }
  }
  const result = {
    ...found,
    tried,
    describe() {
      if (found.path !== null) {
        const skipped = tried.length === 0 ? '' : ` (passed over: ${tried.map((t) => t.candidate).join(', ')})`;
        return `python ${found.path} (from ${found.source})${skipped}`;
      }
      const why = tried.length === 0 ? 'no python3 or python on PATH' : tried.map((t) => `${t.candidate}: ${t.reason}`).join('; ');
      return (
        `no Python that can import ${modules.join(', ')} ` +
        `(${env.RINGBUS_PYTHON ? `RINGBUS_PYTHON=${env.RINGBUS_PYTHON}` : 'searched PATH'}: ${why}); ` +
        `set RINGBUS_PYTHON to one that can (Debian: apt install python3-channels-redis, then RINGBUS_PYTHON=/usr/bin/python3)`
      );
    },
  };
  cache.set(key, result);
  return result;
}
