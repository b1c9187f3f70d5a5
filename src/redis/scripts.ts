/**
 * The Lua scripts of the Redis layer. Each makes one operation atomic on its server and
 * costs one round trip (ioredis sends EVALSHA and falls back to EVAL once per connection).
 *
 * Cutoffs are exclusive (`(` prefix): a message whose score is exactly the cutoff is still
 * fresh. TTLs are set with PEXPIRE in milliseconds, so sub-second `expiry` values work
 * (channels_redis truncates them to whole seconds, and `EXPIRE 0` deletes the key).
 *
 * @module
 */

/** A script as ioredis' `defineCommand` takes it. */
export interface ScriptDefinition {
  /** Number of KEYS, or undefined when the caller passes it first. */
  numberOfKeys?: number;
  /** The Lua source. */
  lua: string;
}

/**
 * send. KEYS[1] = channel key. ARGV = member, score, cutoff, capacity, ttl ms, full policy.
 * Drops expired members, then refuses (`'reject'`) or evicts the oldest (`'drop-oldest'`)
 * when the key holds `capacity` members, adds, and refreshes the key's TTL.
 * Returns `{status, expired, depth}`: status -1 = full (nothing added), else the number of
 * evicted members; depth = members after the call.
 */
export const SEND: ScriptDefinition = {
  numberOfKeys: 1,
  lua: `
local key = KEYS[1]
local expired = redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[3])
local depth = redis.call('ZCARD', key)
local capacity = tonumber(ARGV[4])
local evicted = 0
if depth >= capacity then
  if ARGV[6] ~= 'drop-oldest' then
    return {-1, expired, depth}
  end
  evicted = depth - capacity + 1
  redis.call('ZPOPMIN', key, evicted)
  depth = depth - evicted
end
redis.call('ZADD', key, ARGV[2], ARGV[1])
redis.call('PEXPIRE', key, ARGV[5])
return {evicted, expired, depth + 1}
`,
};

/**
 * group send, one call per shard. KEYS = the member channel keys on this shard (distinct).
 * ARGV = score, cutoff, ttl ms, then per key: member, capacity, full policy.
 * Capacity is checked per key; a full key misses the message (never an error) unless its
 * policy is `'drop-oldest'`. Returns one status per key (-1 = full and missed, else the
 * number of evicted members), then the total number of expired members removed.
 */
export const GROUP_DELIVER: ScriptDefinition = {
  lua: `
local score, cutoff, ttl = ARGV[1], '(' .. ARGV[2], ARGV[3]
local result = {}
local expired = 0
for i = 1, #KEYS do
  local key = KEYS[i]
  local base = 3 + 3 * (i - 1)
  expired = expired + redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)
  local depth = redis.call('ZCARD', key)
  local capacity = tonumber(ARGV[base + 2])
  local status = 0
  if depth >= capacity then
    if ARGV[base + 3] == 'drop-oldest' then
      status = depth - capacity + 1
      redis.call('ZPOPMIN', key, status)
    else
      status = -1
    end
  end
  if status >= 0 then
    redis.call('ZADD', key, score, ARGV[base + 1])
    redis.call('PEXPIRE', key, ttl)
  end
  result[i] = status
end
result[#KEYS + 1] = expired
return result
`,
};

/** group members. KEYS[1] = group key, ARGV[1] = cutoff. Drops expired members, returns the rest. */
export const GROUP_MEMBERS: ScriptDefinition = {
  numberOfKeys: 1,
  lua: `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
`,
};

/** group add. KEYS[1] = group key, ARGV = channel, score, ttl ms. */
export const GROUP_ADD: ScriptDefinition = {
  numberOfKeys: 1,
  lua: `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`,
};

/**
 * Put a popped member back (its receiver went away before it could be handed over).
 * KEYS[1] = channel key, ARGV = member, its original score, ttl ms. The original score keeps
 * its place in the queue; a key that had vanished gets a TTL again.
 */
export const UNPOP: ScriptDefinition = {
  numberOfKeys: 1,
  lua: `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
`,
};

/**
 * flush. ARGV[1] = a MATCH pattern (the escaped prefix, then '*'). Deletes every matching
 * key with SCAN (never KEYS, which blocks the server on a big keyspace in one step).
 * Returns the number of keys deleted.
 */
export const FLUSH: ScriptDefinition = {
  numberOfKeys: 0,
  lua: `
local cursor = '0'
local deleted = 0
repeat
  local reply = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
  cursor = reply[1]
  local keys = reply[2]
  for i = 1, #keys do
    deleted = deleted + redis.call('DEL', keys[i])
  end
until cursor == '0'
return deleted
`,
};
