// Command-line flags of `npm run bench` / `ringbus bench`.

export const USAGE = `usage: npm run bench -- [flags]      (or: ringbus bench [flags])

  --quick           a smoke run: fewer rounds, shorter budgets (the whole run under 90 s)
  --filter <name>   run only suites or cases whose id contains <name> ('floor', 'shared/rtt',
                    'rtt'); repeat or separate by commas for several
  --json            print the results as JSON on stdout instead of the table
  --rounds <n>      interleaved rounds (default 4, quick 2)
  --time <ms>       time budget per case per round (default 600, quick 150)
  --out <dir>       where latest.json and report.html go (default bench/results under the
                    current directory: in a clone, the repository's; for ringbus bench, yours)
  --help            this text
`;

/** Parse argv (without node and script) into options; throws a TypeError naming a bad flag. */
export function parseArgs(argv) {
  const opts = { quick: false, json: false, help: false, filters: [], rounds: undefined, timeMs: undefined, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new TypeError(`flag ${flag} needs a value`);
      return v;
    };
    const count = (name) => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new TypeError(`invalid ${name} ${JSON.stringify(v)}: it must be an integer >= 1`);
      return n;
    };
    switch (flag) {
      case '--quick':
        opts.quick = true;
        break;
      case '--json':
        opts.json = true;
        break;
      case '--help':
      case '-h':
        opts.help = true;
        break;
      case '--filter':
        opts.filters.push(...value().split(',').map((s) => s.trim()).filter(Boolean));
        break;
      case '--rounds':
        opts.rounds = count('--rounds');
        break;
      case '--time':
        opts.timeMs = count('--time');
        break;
      case '--out':
        opts.out = value();
        break;
      default:
        throw new TypeError(`unknown flag ${JSON.stringify(arg)}\n\n${USAGE}`);
    }
  }
  opts.rounds ??= opts.quick ? 2 : 4;
  opts.timeMs ??= opts.quick ? 150 : 600;
  opts.warmupMs = opts.quick ? 30 : 100;
  return opts;
}
