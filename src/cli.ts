#!/usr/bin/env node
/**
 * The `ringbus` command line. `ringbus bench [flags]` runs the benchmark suites, exactly as
 * `npm run bench -- [flags]` does in a clone of the repository: the bench lives in `bench/`
 * (plain JavaScript, shipped with the package) and this command only hands it the flags.
 *
 * @module
 */

import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const USAGE = `usage: ringbus <command> [flags]

commands:
  bench [flags]   measure ringbus against the cross-core floor, the codec ceiling and its
                  peers; prints a table of figures and ratios and writes latest.json and
                  report.html (see 'ringbus bench --help')

flags:
  --help          this text
  --version       the installed ringbus version
`;

/** The shape of `bench/run.js`, which this command delegates to. */
interface BenchModule {
  main(argv: string[]): Promise<number>;
}

/**
 * Run the `ringbus` command with `argv` (the arguments after the program name) and resolve
 * with the process exit code: 0 on success, 1 when a benchmark case failed, 2 for a usage
 * error.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'bench': {
      // The bench is plain ESM next to dist/, loaded by URL so that the compiler does not try
      // to type-check or copy it.
      const href = new URL('../bench/run.js', import.meta.url).href;
      let bench: BenchModule;
      try {
        bench = (await import(href)) as BenchModule;
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code !== 'ERR_MODULE_NOT_FOUND') throw err;
        // tinybench is a development dependency: an install without it cannot run the bench.
        process.stderr.write(`ringbus bench: ${(err as Error).message}\nInstall the benchmark's dependency with 'npm install tinybench' (or run 'npm run bench' in a clone of ringbus).\n`);
        return 2;
      }
      // Ctrl-C: exit through the 'exit' handlers, which stop a redis-server the bench started.
      process.once('SIGINT', () => process.exit(130));
      return bench.main([...rest]);
    }
    case '--version':
    case '-v': {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
      process.stdout.write(`${pkg.version}\n`);
      return 0;
    }
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`ringbus: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

/** True when this file is the program being run (directly, or through the npm bin link). */
function isMain(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === pathToFileURL(realpathSync(fileURLToPath(import.meta.url))).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  process.exitCode = await runCli(process.argv.slice(2));
}
