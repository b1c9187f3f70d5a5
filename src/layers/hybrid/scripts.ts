/**
 * The hybrid layer's Lua script: a group send for one server that leaves out this machine's
 * own members (they get the message through shared memory) and names them in its reply.
 *
 * @module
 */

import type { ScriptDefinition } from '../../redis/scripts.js';

/**
 * GROUP_SEND_LOCAL of src/redis/scripts.ts (same arguments, same bytes written, same
 * conditions: one server, no encryption, no per-channel capacity or policy patterns) plus
 * ARGV[11] = this machine's owner suffix (`.<bus>!`): members whose part up to `!` ends with
 * it are not stored for but returned. Returns `{delivered, missed, evicted, expired,
 * own member, ...}`. One round trip for the whole group.
 */
export const GROUP_SEND_EXCEPT: ScriptDefinition = {
  numberOfKeys: 1,
  lua: `
local function container(n, fix, b16, b32)
  if n < 16 then return string.char(fix + n) end
  if n < 65536 then return string.char(b16, math.floor(n / 256), n % 256) end
  return string.char(b32, math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end
local function str(s)
  local n = #s
  if n < 32 then return string.char(0xa0 + n) .. s end
  if n < 256 then return string.char(0xd9, n) .. s end
  return string.char(0xda, math.floor(n / 256), n % 256) .. s
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local suffix = ARGV[11]
local order, routes, own = {}, {}, {}
for _, channel in ipairs(members) do
  local bang = string.find(channel, '!', 1, true)
  if bang and bang >= #suffix and string.sub(channel, bang - #suffix + 1, bang) == suffix then
    own[#own + 1] = channel
  else
    local key = ARGV[1] .. (bang and string.sub(channel, 1, bang) or channel)
    local list = routes[key]
    if list == nil then
      list = {}
      routes[key] = list
      order[#order + 1] = key
    end
    list[#list + 1] = channel
  end
end
local head = ARGV[8] .. container(tonumber(ARGV[10]) + 1, 0x80, 0xde, 0xdf) .. ARGV[9] .. str('__asgi_channel__')
local capacity = tonumber(ARGV[6])
local delivered, missed, evicted, expired = 0, 0, 0, 0
for _, key in ipairs(order) do
  local list = routes[key]
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
    local parts = { head, container(#list, 0x90, 0xdc, 0xdd) }
    for _, channel in ipairs(list) do parts[#parts + 1] = str(channel) end
    redis.call('ZADD', key, ARGV[3], table.concat(parts))
    redis.call('PEXPIRE', key, ARGV[5])
    delivered = delivered + #list
  else
    missed = missed + #list
  end
end
local reply = {delivered, missed, evicted, expired}
for _, channel in ipairs(own) do reply[#reply + 1] = channel end
return reply
`,
};
