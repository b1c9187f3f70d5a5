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
 * Drops expired members; when the member is already there (a retried send whose first
 * attempt was applied: members carry 12 random bytes, so nothing else matches) adds nothing;
 * else refuses (`'reject'`) or evicts the oldest (`'drop-oldest'`) when the key holds
 * `capacity` members, adds, and refreshes the key's TTL.
 * Returns `{status, expired, depth}`: status -1 = full (nothing added), else the number of
 * evicted members; depth = members after the call.
 */
export const SEND: ScriptDefinition = {
  numberOfKeys: 1,
  lua: `
local key = KEYS[1]
local expired = redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[3])
local depth = redis.call('ZCARD', key)
if redis.call('ZSCORE', key, ARGV[1]) then
  return {0, expired, depth} -- a retried send whose first attempt was applied: nothing to add
end
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

/**
 * group send in one round trip, for a layer on one server without encryption and without
 * per-channel capacity or policy patterns (then everything the send needs is on that
 * server, and every key has the same capacity). KEYS[1] = group key. ARGV = key prefix,
 * group cutoff, score, expiry cutoff, ttl ms, capacity, full policy, the 12 random bytes,
 * the encoded message map without its header, its entry count, the sender's owner suffix
 * (`.<client>!`, or '' for none).
 *
 * It does in Lua what the two-step path does in Node: read the live members, group them
 * by key (`<prefix><name up to !>`), and store for each key the message with
 * `__asgi_channel__` = the list of its members, written as msgpack byte for byte as
 * msgpackr writes it (map header count + 1, then the list by Redis' cmsgpack: fixarray /
 * array16 of fixstr / str8 / str16; an older cmsgpack may write str16 where msgpackr writes
 * str8, which every msgpack reader reads as the same string).
 * Members whose part up to `!` ends with the sender's owner suffix are not stored for but
 * returned: the sender delivers to its own channels without Redis.
 * The member keys are not declared in KEYS, which Redis accepts outside cluster mode
 * (channels_redis' flush script does the same; neither supports Redis Cluster).
 * Returns `{delivered members, missed members, evicted, expired, own member, ...}` (the own
 * members grouped by owner part).
 */
export const GROUP_SEND_LOCAL: ScriptDefinition = {
  numberOfKeys: 1,
  // Cost (Redis 7, 100 members of one owner): the member list is grouped by owner part
  // with one pattern match per member, and the routing list is written by cmsgpack.pack (C)
  // instead of being concatenated in Lua; that took the script from about 80 to about 40 µs.
  lua: `
local function container(n, fix, b16, b32)
  if n < 16 then return string.char(fix + n) end
  if n < 65536 then return string.char(b16, math.floor(n / 256), n % 256) end
  return string.char(b32, math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local suffix = ARGV[11]
local order, routes, own = {}, {}, {}
for _, channel in ipairs(members) do
  local owner = string.match(channel, '^[^!]*!')
  local route = owner or channel
  local list = routes[route]
  if list == nil then
    list = {}
    routes[route] = list
    -- The sender's own owner parts (ending with its suffix) are returned, not stored for.
    if owner and suffix ~= '' and #owner >= #suffix and string.sub(owner, -#suffix) == suffix then
      own[#own + 1] = list
    else
      order[#order + 1] = route
    end
  end
  list[#list + 1] = channel
end
-- fixstr '__asgi_channel__' follows the caller's map entries.
local head = ARGV[8] .. container(tonumber(ARGV[10]) + 1, 0x80, 0xde, 0xdf) .. ARGV[9] .. '\\176__asgi_channel__'
local capacity = tonumber(ARGV[6])
local delivered, missed, evicted, expired = 0, 0, 0, 0
for _, route in ipairs(order) do
  local list = routes[route]
  local key = ARGV[1] .. route
  expired = expired + redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[4])
  local depth = redis.call('ZCARD', key)
  local room = true
  if depth >= capacity then
    if ARGV[7] == 'drop-oldest' then
      local n = depth - capacity + 1
      redis.call('ZPOPMIN', key, n)
      evicted = evicted + n
    else
      room = false
    end
  end
  if room then
    -- A msgpack array of str (fixstr / str8 / str16 by length), as msgpackr writes it.
    redis.call('ZADD', key, ARGV[3], head .. cmsgpack.pack(list))
    redis.call('PEXPIRE', key, ARGV[5])
    delivered = delivered + #list
  else
    missed = missed + #list
  end
end
local reply = {delivered, missed, evicted, expired}
for _, list in ipairs(own) do
  for _, channel in ipairs(list) do reply[#reply + 1] = channel end
end
return reply
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

/**
 * Shared Lua helpers of the lease scripts. A lease's bookkeeping lives next to its channel
 * key K: `K$ringbus-leases` (sorted set: member -> lease deadline, epoch seconds) and
 * `K$ringbus-lease-meta` (hash: member -> "token|deliveries|original score"). The token
 * names one delivery, so that settling a lease that expired and was handed out again does
 * nothing. Requeued members go back to K with their original score (the head of the
 * queue); members at `maxDeliveries` go to the dead-letter key instead.
 */
const LEASE_LUA_HELPERS = `
local function parse(meta)
  local token, deliveries, score = string.match(meta, '^([^|]*)|([^|]*)|(.*)$')
  return token, tonumber(deliveries), score
end
local function requeue(queue, leases, meta, dead, member, deliveries, score, maxDeliveries, deadScore, ttl)
  redis.call('ZREM', leases, member)
  if maxDeliveries > 0 and deliveries >= maxDeliveries then
    redis.call('HDEL', meta, member)
    redis.call('ZADD', dead, deadScore, member)
    redis.call('PEXPIRE', dead, ttl)
    return
  end
  redis.call('ZADD', queue, score, member)
  redis.call('PEXPIRE', queue, ttl)
  redis.call('HSET', meta, member, '|' .. deliveries .. '|' .. score)
end
`;

/**
 * Take a message under a lease. KEYS = queue, leases, meta, dead-letter queue.
 * ARGV = now, lease deadline, expiry cutoff, maxDeliveries (0 = unlimited), token,
 * 'min' | 'max' (order), ttl ms. First puts back every lease past its deadline (so a dead
 * holder's messages return without anyone's help), then pops the next fresh message,
 * records the lease and returns `{member, original score, deliveries, expired}`; or
 * `{false, false, false, expired}` when the queue is empty.
 */
export const LEASE_TAKE: ScriptDefinition = {
  numberOfKeys: 4,
  lua: `${LEASE_LUA_HELPERS}
local now, maxDeliveries, ttl = ARGV[1], tonumber(ARGV[4]), ARGV[7]
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)) do
  local meta = redis.call('HGET', KEYS[3], member)
  if meta then
    local _, deliveries, score = parse(meta)
    requeue(KEYS[1], KEYS[2], KEYS[3], KEYS[4], member, deliveries, score, maxDeliveries, now, ttl)
  else
    redis.call('ZREM', KEYS[2], member)
  end
end
local expired = 0
while true do
  local popped
  if ARGV[6] == 'max' then popped = redis.call('ZPOPMAX', KEYS[1]) else popped = redis.call('ZPOPMIN', KEYS[1]) end
  if #popped == 0 then return {false, false, false, expired} end
  local member, score = popped[1], popped[2]
  local meta = redis.call('HGET', KEYS[3], member)
  if tonumber(score) > tonumber(ARGV[3]) then
    local deliveries = 1
    if meta then
      local _, before = parse(meta)
      deliveries = before + 1
    end
    redis.call('HSET', KEYS[3], member, ARGV[5] .. '|' .. deliveries .. '|' .. score)
    redis.call('ZADD', KEYS[2], ARGV[2], member)
    redis.call('PEXPIRE', KEYS[2], ttl)
    redis.call('PEXPIRE', KEYS[3], ttl)
    return {member, score, deliveries, expired}
  end
  if meta then redis.call('HDEL', KEYS[3], member) end
  expired = expired + 1
end
`,
};

/**
 * Settle a lease. KEYS = queue, leases, meta, dead-letter queue. ARGV = member, token,
 * 'ack' | 'nack', maxDeliveries (0 = unlimited), now, ttl ms. Returns 1 when the lease
 * was still held (its token matches), else 0 and nothing changes.
 */
export const LEASE_SETTLE: ScriptDefinition = {
  numberOfKeys: 4,
  lua: `${LEASE_LUA_HELPERS}
local meta = redis.call('HGET', KEYS[3], ARGV[1])
if not meta then return 0 end
local token, deliveries, score = parse(meta)
if token ~= ARGV[2] or not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
if ARGV[3] == 'ack' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
else
  requeue(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], deliveries, score, tonumber(ARGV[4]), ARGV[5], ARGV[6])
end
return 1
`,
};

/**
 * sendMany. KEYS[1] = channel key. ARGV = cutoff, capacity, ttl ms, full policy, then
 * score, member pairs in order. Drops expired members, then adds the pairs in order while
 * the key holds fewer than `capacity` members: under `'drop-oldest'` it evicts the oldest
 * (ZPOPMIN, as SEND; possibly members of this batch) to add them all, otherwise it stops at
 * the first that does not fit. Returns `{added, evicted, expired, depth}`: the first `added`
 * pairs were added, the rest were not.
 */
export const SEND_MANY: ScriptDefinition = {
  numberOfKeys: 1,
  lua: `
local key = KEYS[1]
local expired = redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[1])
local capacity = tonumber(ARGV[2])
local dropOldest = ARGV[4] == 'drop-oldest'
local depth = redis.call('ZCARD', key)
local added, evicted = 0, 0
for i = 5, #ARGV - 1, 2 do
  if depth >= capacity then
    if not dropOldest then break end
    local n = depth - capacity + 1
    redis.call('ZPOPMIN', key, n)
    evicted = evicted + n
    depth = depth - n
  end
  redis.call('ZADD', key, ARGV[i], ARGV[i + 1])
  depth = depth + 1
  added = added + 1
end
if added > 0 then redis.call('PEXPIRE', key, ARGV[3]) end
return {added, evicted, expired, depth}
`,
};

/**
 * receiveMany without waiting. KEYS[1] = channel key. ARGV = cutoff, count, 'min' (oldest
 * first) or 'max' (newest first, LIFO). Drops expired members, then pops up to `count`.
 * Returns `{expired, member1, score1, member2, score2, ...}`.
 */
export const POP_MANY: ScriptDefinition = {
  numberOfKeys: 1,
  lua: `
local key = KEYS[1]
local expired = redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[1])
local popped
if ARGV[3] == 'max' then
  popped = redis.call('ZPOPMAX', key, ARGV[2])
else
  popped = redis.call('ZPOPMIN', key, ARGV[2])
end
local out = {expired}
for i = 1, #popped do out[i + 1] = popped[i] end
return out
`,
};
