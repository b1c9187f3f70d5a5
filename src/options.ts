/**
 * Checks that every backend applies to its options object before reading it: unknown
 * options (a typo is refused with the closest known name), and the unit check of the time
 * options (seconds for `expiry` / `groupExpiry`, as Django Channels; milliseconds for
 * `timeout` / `leaseTimeout` / `operationTimeout`, as JavaScript).
 *
 * @module
 */

/** A number of seconds (`expiry`, `groupExpiry`: Django Channels' unit). */
export type Seconds = number;
/** A number of milliseconds (`timeout`, `leaseTimeout`, `operationTimeout`: JavaScript's unit). */
export type Milliseconds = number;
/** A number of bytes (`memory`, `maxMessageSize`). */
export type Bytes = number;
/** A count of messages, names or slots (`capacity`, `maxNames`, ...). */
export type Count = number;

/** Levenshtein distance between `a` and `b`, ignoring case (short strings: option names). */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const row = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = row;
  }
  return prev[t.length] as number;
}

/** The known name closest to `name`, when it is close enough to be a typo of it. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // A typo changes a few characters: at most a third of the name (and at least 2 allowed).
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/**
 * Throw a `TypeError` for the first own key of `options` that is not in `known`, naming it and
 * the closest known option (or listing them). `what` names the options in the message, e.g.
 * `createLayer({ backend: 'shared' })`.
 */
export function assertKnownOptions(what: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = closestName(key, known);
    throw new TypeError(
      `unknown option ${JSON.stringify(key)} for ${what}` +
        (near !== undefined ? `; did you mean ${JSON.stringify(near)}?` : `; known options: ${known.join(', ')}`),
    );
  }
}

const HOUR = 3600;
const DAY = 86_400;

function span(seconds: number): string {
  if (seconds >= DAY) return `${+(seconds / DAY).toFixed(1)} days`;
  if (seconds >= HOUR) return `${+(seconds / HOUR).toFixed(1)} hours`;
  return `${+(seconds / 60).toFixed(1)} minutes`;
}

/**
 * The unit check of `expiry` and `groupExpiry` (seconds, already checked to be numbers > 0):
 * throws a `TypeError` for values that are almost surely milliseconds given by mistake, unless
 * `allowLongExpiry` is true. `expirySet`: the caller gave `expiry` (the default is not checked
 * against a short `groupExpiry`).
 */
export function assertExpiryUnits(expiry: Seconds, groupExpiry: Seconds, expirySet: boolean, allowLongExpiry: boolean): void {
  if (allowLongExpiry) return;
  const optIn = 'pass allowLongExpiry: true if you mean it';
  if (expiry > DAY) {
    throw new TypeError(
      `invalid option expiry: ${expiry}; expiry is in seconds (as Django Channels), and ${expiry} s is ` +
        `${span(expiry)}, above a day: milliseconds given by mistake? (${expiry} ms would be expiry: ${expiry / 1000}); ${optIn}`,
    );
  }
  if (expiry >= HOUR && expiry % 1000 === 0) {
    throw new TypeError(
      `invalid option expiry: ${expiry}; expiry is in seconds (as Django Channels), and ${expiry} s is ` +
        `${span(expiry)}: this looks like milliseconds (did you mean expiry: ${expiry / 1000}?); ${optIn}`,
    );
  }
  if (expirySet && expiry > groupExpiry) {
    throw new TypeError(
      `invalid option expiry: ${expiry}; it is longer than groupExpiry (${groupExpiry} s): a message would outlive ` +
        `the group membership that routed it; both are in seconds; ${optIn}`,
    );
  }
  if (groupExpiry > 365 * DAY) {
    throw new TypeError(
      `invalid option groupExpiry: ${groupExpiry}; groupExpiry is in seconds (as Django Channels), and ${groupExpiry} s ` +
        `is ${span(groupExpiry)}, above a year: milliseconds given by mistake? (did you mean groupExpiry: ` +
        `${groupExpiry / 1000}?); ${optIn}`,
    );
  }
}
