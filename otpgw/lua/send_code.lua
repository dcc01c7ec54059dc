-- send_code.lua: check every send limit, then store the code and queue its message.
-- Nothing is written unless every check passes, so a refusal costs the caller nothing.
-- KEYS[1]  phone lock              KEYS[2]  user_ref lock (ignored when ARGV[22] == '')
-- KEYS[3]  phone opt-out           KEYS[4]  phone resend cooldown
-- KEYS[5]  phone send log (zset)   KEYS[6]  client IP send counter (ignored when ARGV[9] == '0')
-- KEYS[7]  country day counter     KEYS[8]  newest code id of this phone and client
-- KEYS[9]  new code record (hash)  KEYS[10] new code digest
-- KEYS[11] transport stream         KEYS[12] number-prefix day counter
-- ARGV[1]  now (ms)                ARGV[2]  new id
-- ARGV[3]  digest                  ARGV[4]  code ttl (ms)
-- ARGV[5]  record ttl (ms)         ARGV[6]  resend cooldown (ms)
-- ARGV[7]  send window (ms)        ARGV[8]  sends allowed per window
-- ARGV[9]  IP sends allowed per IP window (0: no IP given or no limit)
-- ARGV[10] IP window (ms)          ARGV[11] country daily cap (0: none)
-- ARGV[12] ms until the UTC day ends
-- ARGV[13] sealed message          ARGV[14] stream ttl (ms)
-- ARGV[15] record key prefix       ARGV[16] digest key prefix (+ id = key, for superseding)
-- ARGV[17] number-prefix daily cap (0: no configured prefix matches)
-- ARGV[18] client   ARGV[19] country   ARGV[20] locale   ARGV[21] transport
-- ARGV[22] user_ref tag ('' = none)   ARGV[23], ARGV[24] user_ref failure and level keys
-- Returns {'ok', resend_after_ms} or {refusal, retry_after_ms, limit_name} where refusal is
-- 'opted_out', 'locked' or 'rate_limited'.
local now = tonumber(ARGV[1])
local expires = now + tonumber(ARGV[4])
local day_left = ms(ARGV[12])
local has_user = ARGV[22] ~= ''

if redis.call('EXISTS', KEYS[3]) == 1 then return {'opted_out', 0, 'opt_out'} end
local locked = redis.call('PTTL', KEYS[1])
if locked > 0 then return {'locked', locked, 'phone'} end
if has_user then
  locked = redis.call('PTTL', KEYS[2])
  if locked > 0 then return {'locked', locked, 'user_ref'} end
end
local ip_max = tonumber(ARGV[9])
if ip_max > 0 and tonumber(redis.call('GET', KEYS[6]) or '0') >= ip_max then
  return {'rate_limited', redis.call('PTTL', KEYS[6]), 'client_ip_send'}
end
local cooling = redis.call('PTTL', KEYS[4])
if cooling > 0 then return {'rate_limited', cooling, 'resend_cooldown'} end
local window = tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - window)
if redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[8]) then
  local oldest = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
  return {'rate_limited', ms(tonumber(oldest[2]) + window - now), 'phone_send_window'}
end
local cap = tonumber(ARGV[11])
if cap > 0 and tonumber(redis.call('GET', KEYS[7]) or '0') >= cap then
  return {'rate_limited', day_left, 'country_daily'}
end
local prefix_cap = tonumber(ARGV[17])
if prefix_cap > 0 and tonumber(redis.call('GET', KEYS[12]) or '0') >= prefix_cap then
  return {'rate_limited', day_left, 'prefix_daily'}
end

-- Every check passed: count this send everywhere.
if ip_max > 0 and redis.call('INCR', KEYS[6]) == 1 then redis.call('PEXPIRE', KEYS[6], ARGV[10]) end
local function count_today(key)  -- a day counter outlives its UTC day by an hour
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, day_left + 3600000) end
end
if cap > 0 then count_today(KEYS[7]) end
if prefix_cap > 0 then count_today(KEYS[12]) end
local cooldown = ms(ARGV[6])
if cooldown > 0 then redis.call('SET', KEYS[4], '1', 'PX', cooldown) end
redis.call('ZADD', KEYS[5], now, ARGV[2])
redis.call('PEXPIRE', KEYS[5], window)

-- A resend supersedes this client's previous code for the phone: one live code per client.
local previous = redis.call('GET', KEYS[8])
if previous then
  local old = ARGV[15] .. previous
  if redis.call('HGET', old, 'status') == 'pending' then
    redis.call('HSET', old, 'status', 'canceled', 'ended_at', now, 'superseded_by', ARGV[2])
  end
  redis.call('DEL', ARGV[16] .. previous)
end

local ulock = has_user and KEYS[2] or ''
redis.call('HSET', KEYS[9], 'id', ARGV[2], 'status', 'pending', 'attempts', 0, 'created_at', now,
           'expires_at', expires, 'client', ARGV[18], 'country', ARGV[19], 'locale', ARGV[20],
           'transport', ARGV[21], 'utag', ARGV[22], 'ufails', ARGV[23], 'ulock', ulock, 'ulevel', ARGV[24],
           'delivery_status', 'queued', 'delivery_updated_at', now)
redis.call('PEXPIRE', KEYS[9], ARGV[5])
redis.call('SET', KEYS[10], ARGV[3], 'PX', ARGV[4])
-- the pointer lives as long as the record, so a late verify by phone learns the exact reason
redis.call('SET', KEYS[8], ARGV[2], 'PX', ARGV[5])
redis.call('XADD', KEYS[11], '*', 'id', ARGV[2], 'sealed', ARGV[13], 'deadline', expires, 'attempt', '0')
redis.call('PEXPIRE', KEYS[11], ARGV[14])
return {'ok', cooldown, ''}
