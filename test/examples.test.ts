/**
 * Every program in examples/ runs to completion (exit code 0) against the built package:
 * an example a user copies must work.
 */
import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const examples = join(root, 'examples');

/** Top-level .mjs files, and `main.mjs` of example folders; a folder may opt out with a README-only layout. */
function programs(): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(examples)) {
    const path = join(examples, entry);
    if (entry.endsWith('.mjs')) found.push(path);
    else if (statSync(path).isDirectory()) {
      const main = join(path, 'main.mjs');
      try {
        statSync(main);
        found.push(main);
      } catch {
        // a folder without main.mjs (e.g. needs an outside service) is documented, not run
      }
    }
  }
  return found.sort();
}

describe('examples', () => {
  for (const program of programs()) {
    it(`runs ${program.slice(examples.length + 1)}`, async () => {
      const { stdout } = await run(process.execPath, [program], { cwd: root, timeout: 60_000 });
      expect(stdout.length).toBeGreaterThan(0);
    });
  }
});
