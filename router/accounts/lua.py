"""The Lua scripts behind `RedisAccountStore`; each runs atomically inside Redis.

Budget counters are a hash (`spent`, `reserved`, and `r:<id>` per live reservation) plus a
sorted set of reservation ids scored by expiry (ms). Time comes from Redis' own `TIME`, so
replicas with skewed clocks still agree on windows and expiries. Money is integer
micro-dollars: Lua numbers are doubles, exact for integers below 2^53.
"""

from __future__ import annotations

# Frees reservations whose replica never settled them. Bounded per call so one script stays
# short; the next call frees the rest.
_PRELUDE = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function purge(h, z, now)
  local expired = redis.call('ZRANGEBYSCORE', z, '-inf', now, 'LIMIT', 0, 1000)
  for _, rid in ipairs(expired) do
    local field = 'r:' .. rid
    local amount = tonumber(redis.call('HGET', h, field) or '0')
    redis.call('HDEL', h, field)
    redis.call('HINCRBY', h, 'reserved', -amount)
  end
  if #expired > 0 then
    redis.call('ZREM', z, unpack(expired))
  end
end
"""

# Reserve on every counter or none. KEYS: the reservation's done marker, then per counter its
# hash and its sorted set. ARGV: id, amount, reservation ttl (ms); then per counter: limit (-1:
# none), key ttl (s). Returns {status, counter index, spent, reserved}: 0 rejected, 1 reserved,
# 2 already settled or released, 3 already reserved.
_RESERVE_FN = """
local function reserve(keys, argv)
  local id = argv[1]
  local amount = tonumber(argv[2])
  local ttl_ms = tonumber(argv[3])
  local n = (#keys - 1) / 2
  if redis.call('EXISTS', keys[1]) == 1 then
    return {2, 0, 0, 0}
  end
  if n > 0 and redis.call('ZSCORE', keys[3], id) then
    return {3, 0, 0, 0}
  end
  local now = now_ms()
  for i = 1, n do
    local h, z = keys[2 * i], keys[2 * i + 1]
    purge(h, z, now)
    local limit = tonumber(argv[2 + 2 * i])
    if limit >= 0 then
      local v = redis.call('HMGET', h, 'spent', 'reserved')
      local spent, reserved = tonumber(v[1] or '0'), tonumber(v[2] or '0')
      if spent + reserved + amount > limit then
        return {0, i, spent, reserved}
      end
    end
  end
  for i = 1, n do
    local h, z = keys[2 * i], keys[2 * i + 1]
    local key_ttl = argv[3 + 2 * i]
    redis.call('HSET', h, 'r:' .. id, amount)
    redis.call('HINCRBY', h, 'reserved', amount)
    redis.call('ZADD', z, now + ttl_ms, id)
    redis.call('EXPIRE', h, key_ttl)
    redis.call('EXPIRE', z, key_ttl)
  end
  return {1, 0, 0, 0}
end
"""

RESERVE = _PRELUDE + _RESERVE_FN + "return reserve(KEYS, ARGV)\n"

FINISH = """
-- KEYS[1]: the reservation's done marker; then per counter its hash and its sorted set.
-- ARGV: id, actual cost, marker ttl (ms), outcome; then per counter its key ttl (s).
-- Returns 1 the first time, 0 after (settle and release are idempotent).
if not redis.call('SET', KEYS[1], ARGV[4], 'NX', 'PX', ARGV[3]) then
  return 0
end
local id = ARGV[1]
local actual = tonumber(ARGV[2])
local n = (#KEYS - 1) / 2
for i = 1, n do
  local h, z = KEYS[2 * i], KEYS[2 * i + 1]
  local field = 'r:' .. id
  if redis.call('ZREM', z, id) == 1 then
    local amount = tonumber(redis.call('HGET', h, field) or '0')
    redis.call('HINCRBY', h, 'reserved', -amount)
  end
  redis.call('HDEL', h, field)
  if actual > 0 then
    redis.call('HINCRBY', h, 'spent', actual)
    redis.call('EXPIRE', h, ARGV[4 + i])
  end
end
return 1
"""

READ = (
    _PRELUDE
    + """
-- KEYS: per counter its hash and its sorted set. Returns {spent, reserved} per counter.
local now = now_ms()
local out = {}
for i = 1, #KEYS / 2 do
  local h, z = KEYS[2 * i - 1], KEYS[2 * i]
  purge(h, z, now)
  local v = redis.call('HMGET', h, 'spent', 'reserved')
  out[#out + 1] = tonumber(v[1] or '0')
  out[#out + 1] = tonumber(v[2] or '0')
end
return out
"""
)

# GCRA over every rule at once. KEYS: one arrival-time key per rule. ARGV: per rule its
# increment and its period (microseconds). Returns {0, 0} if allowed (all rules counted), else
# {rule index, wait in microseconds} for the rule with the longest wait, and nothing is counted.
_HIT_FN = """
local function hit(keys, argv)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local worst, which = 0, 0
  local tats = {}
  for i = 1, #keys do
    local increment, period = tonumber(argv[2 * i - 1]), tonumber(argv[2 * i])
    local tat = tonumber(redis.call('GET', keys[i]) or '0')
    if tat < now then tat = now end
    local new_tat = tat + increment
    local wait = new_tat - period - now
    if wait > worst then worst, which = wait, i end
    tats[i] = new_tat
  end
  if which > 0 then
    return {which, worst}
  end
  for i = 1, #keys do
    local px = math.ceil((tats[i] - now) / 1000) + 1
    redis.call('SET', keys[i], string.format('%d', tats[i]), 'PX', px)
  end
  return {0, 0}
end
"""

HIT = _HIT_FN + "return hit(KEYS, ARGV)\n"

# Rate limits, then the budget reservation, in one round trip: the request path's admission.
# ARGV[1]: the number of rate rules R. KEYS: R rate keys, then RESERVE's keys. ARGV after the
# first: 2R rate arguments, then RESERVE's. Returns {rule index, wait} ++ RESERVE's four
# values; when a rate limit refuses, nothing is reserved and the reserve status is -1.
ADMIT = (
    _PRELUDE
    + _HIT_FN
    + _RESERVE_FN
    + """
local rules = tonumber(ARGV[1])
local rate_keys, rate_args, reserve_keys, reserve_args = {}, {}, {}, {}
for i = 1, #KEYS do
  if i <= rules then rate_keys[#rate_keys + 1] = KEYS[i]
  else reserve_keys[#reserve_keys + 1] = KEYS[i] end
end
for i = 2, #ARGV do
  if i <= 1 + 2 * rules then rate_args[#rate_args + 1] = ARGV[i]
  else reserve_args[#reserve_args + 1] = ARGV[i] end
end
local rate = hit(rate_keys, rate_args)
if rate[1] ~= 0 then
  return {rate[1], rate[2], -1, 0, 0, 0}
end
if #reserve_keys == 0 then
  return {0, 0, 1, 0, 0, 0}
end
local r = reserve(reserve_keys, reserve_args)
return {0, 0, r[1], r[2], r[3], r[4]}
"""
)

AUTHENTICATE = """
-- KEYS[1]: a key record. ARGV[1]: the prefix of team records.
-- Returns {key record, its team's record}, '' for a missing one: one round trip, not two.
-- It reads the team the key names, a key not declared in KEYS: fine on one Redis (how
-- Junction deploys it), not on Redis Cluster.
local key = redis.call('GET', KEYS[1])
if not key then
  return {'', ''}
end
local ok, record = pcall(cjson.decode, key)
if not ok or type(record) ~= 'table' or type(record['team']) ~= 'string' then
  return {key, ''}
end
return {key, redis.call('GET', ARGV[1] .. record['team']) or ''}
"""
