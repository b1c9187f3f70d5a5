/**
 * Every ```ts / ```js block of README.md and docs/*.md type-checks: the blocks are written
 * into a consumer project (test/types/outside.ts) as modules, and tsc checks them against the
 * built package (strict; JavaScript blocks with checkJs). A block that is a fragment (it uses
 * names defined elsewhere) opts out with a visible marker on the line before its fence:
 *
 *     <!-- snippet: fragment (why) -->
 *
 * and the reason must be given.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeOutside, root } from './outside.js';

interface Snippet {
  source: string;
  line: number;
  lang: 'ts' | 'js';
  code: string;
  fragment: string | null;
}

const MARKER = /^<!--\s*snippet:\s*fragment\s*(?:\((.*)\))?\s*-->\s*$/;

function snippetsOf(source: string): Snippet[] {
  const lines = readFileSync(join(root, source), 'utf8').split('\n');
  const found: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript|js|javascript)\s*$/.exec(lines[i] as string);
    if (open === null) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] as string); i++) body.push(lines[i] as string);
    const marker = MARKER.exec((lines[start - 1] ?? '').trim()) ?? MARKER.exec((lines[start - 2] ?? '').trim());
    found.push({
      source,
      line: start + 2,
      lang: open[1]!.startsWith('t') ? 'ts' : 'js',
      code: body.join('\n'),
      fragment: marker === null ? null : (marker[1] ?? '').trim(),
    });
  }
  return found;
}

const sources = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const snippets = sources.flatMap(snippetsOf);
const outside = makeOutside('ringbus-snippets-');
afterAll(() => outside.remove());

describe('documentation snippets', () => {
  it('there are snippets to check, and every opt-out says why', () => {
    expect(snippets.filter((s) => s.fragment === null).length).toBeGreaterThan(5);
    for (const s of snippets) {
      if (s.fragment !== null) expect(s.fragment, `${s.source}:${s.line}: a fragment marker needs a reason`).not.toBe('');
    }
  });

  it('type-check against the built package', async () => {
    const files = new Map<string, Snippet>();
    for (const s of snippets) {
      if (s.fragment !== null) continue;
      const name = `snippets/${s.source.replace(/[/.]/g, '_')}_L${s.line}.${s.lang === 'ts' ? 'ts' : 'mjs'}`;
      // One line at the top is added (every snippet is a module of its own); error lines map back with -1.
      outside.write(name, `export {};\n${s.code}\n`);
      files.set(name, s);
    }
    const { output } = await outside.tsc(
      {
        strict: true,
        target: 'es2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        allowJs: true,
        checkJs: true,
        skipLibCheck: false,
        types: ['node'],
      },
      [...files.keys()],
    );
    const problems = output
      .split('\n')
      .filter((l) => l.includes('error TS'))
      .map((l) => {
        const m = /^(snippets\/[^(]+)\((\d+),(\d+)\): (.*)$/.exec(l);
        const s = m === null ? undefined : files.get(m[1]!);
        return s === undefined || m === null ? l : `${s.source}:${s.line + Number(m[2]) - 2}: ${m[4]}`;
      });
    expect(problems).toEqual([]);
  });
});
