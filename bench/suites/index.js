// The registry of suites, in the order they run (baselines first). Adding a suite is one line:
// write bench/suites/<name>.js (contract in bench/harness.js) and import it here.

import floor from './floor.js';
import codec from './codec.js';
import peers from './peers.js';

/** Every suite, baselines first. */
export const SUITES = [floor, codec, peers];
