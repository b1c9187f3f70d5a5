/**
 * The package as an outside user sees it: a folder that depends on this one imports
 * `ringbus` through the `exports` map (not through relative paths) and uses it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const outside = mkdtempSync(join(tmpdir(), 'ringbus-outside-'));
mkdirSync(join(outside, 'node_modules'));
symlinkSync(root, join(outside, 'node_modules', 'ringbus'), 'dir');
writeFileSync(join(outside, 'package.json'), JSON.stringify({ name: 'outside', type: 'module', dependencies: { ringbus: '*' } }));

afterAll(() => rmSync(outside, { recursive: true, force: true }));

function run(source: string): string {
  const file = join(outside, `script-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, source);
  return execFileSync(process.execPath, [file], { cwd: outside, encoding: 'utf8' }).trim();
}

describe('the published package', () => {
  it("imports createLayer and the errors from 'ringbus' and uses the memory layer", () => {
    const out = run(`
      import { createLayer, ChannelFull, MessageTooLarge, LayerClosed, TimeoutError } from 'ringbus';
      const layer = await createLayer({ backend: 'memory', capacity: 1 });
      await layer.send('a', { type: 'x', n: 1 });
      let full = false;
      try { await layer.send('a', { n: 2 }); } catch (e) { full = e instanceof ChannelFull; }
      const m = await layer.receive('a');
      await layer.close();
      console.log(JSON.stringify({ m, full, classes: [MessageTooLarge, LayerClosed, TimeoutError].map((c) => c.name) }));
    `);
    expect(JSON.parse(out)).toEqual({
      m: { type: 'x', n: 1 },
      full: true,
      classes: ['MessageTooLarge', 'LayerClosed', 'TimeoutError'],
    });
  });

  it('ships type declarations for every entry point of the exports map', async () => {
    const pkg = (await import(join(root, 'package.json'), { with: { type: 'json' } })).default as {
      exports: Record<string, { types?: string; import?: string } | string>;
    };
    for (const [entry, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      expect(target.types, entry).toMatch(/\.d\.ts$/);
      expect(target.import, entry).toMatch(/\.js$/);
    }
  });
});
