/**
 * A throwaway TypeScript project outside the repository that depends on ringbus through
 * `node_modules/ringbus` (a link to this checkout, so the `exports` map and the built
 * declarations in dist/ are what it sees), and a way to run this repository's tsc in it.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository's root. */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A consumer project: its folder, a writer of files in it, tsc, and a remover. */
export interface Outside {
  dir: string;
  write(name: string, text: string): string;
  /** Run tsc with `compilerOptions` over `files`; resolves with its exit code and output. */
  tsc(compilerOptions: Record<string, unknown>, files: string[]): Promise<{ code: number; output: string }>;
  remove(): void;
}

export function makeOutside(prefix: string): Outside {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'ringbus'), 'dir');
  // The consumer's own @types/node (a real app installs it next to ringbus).
  symlinkSync(join(root, 'node_modules', '@types'), join(dir, 'node_modules', '@types'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
  return {
    dir,
    write(name, text) {
      const path = join(dir, name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      return path;
    },
    async tsc(compilerOptions, files) {
      const config = join(dir, `tsconfig-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(config, JSON.stringify({ compilerOptions: { noEmit: true, ...compilerOptions }, files }));
      try {
        const { stdout, stderr } = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', config], {
          cwd: dir,
          maxBuffer: 16 * 1024 * 1024,
        });
        return { code: 0, output: stdout + stderr };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
      }
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
