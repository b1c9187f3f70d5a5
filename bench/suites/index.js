// The registry of suites, in the order they run (baselines first). Adding a suite is one line
// here, naming its file (bench/suites/<name>.js, contract in bench/harness.js).

const FILES = [
  './floor.js', // 1. the physical floor
  './codec.js', // 2. the codec ceiling
  './peers.js', // 3. postMessage, BroadcastChannel, the memory layer
  './shared.js', // 4. the ringbus shared layer
  './core.js', // 4b. the core alone across two threads, against a plain JS ring
  './redis.js', // 5. the Redis backend against Python channels_redis
  './tradeoffs.js', // 6. the price of each trade-off knob
  './hybrid.js', // 7. the hybrid backend against the shared and Redis backends
];

/** Every suite module, in run order. */
export const SUITES = await Promise.all(FILES.map(async (file) => (await import(file)).default));
