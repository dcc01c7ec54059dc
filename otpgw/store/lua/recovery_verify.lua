-- recovery_verify.lua: spend one recovery code; each code is accepted once.
-- KEYS
--   recovery         the user's recovery codes (hash: c:<kid:digest> -> 0 unused | ms used)
--   ip_verifies      the client IP's verify counter (a placeholder without an IP)
--   user_lock        the user_ref's lockout flag
--   user_fails       the user_ref's failure counter
--   user_level       the user_ref's lockout level
-- ARGV
--   now              ms
--   candidates       kid:digest of the submitted code under each key this process knows, comma-separated
--   threshold        failures before a lockout
--   window           failure window (ms)
--   base             first lockout (ms)
--   longest          longest lockout (ms)
--   memory           how long a lockout level is remembered (ms)
--   ip_window        IP window (ms)
--   ip_max           verifies allowed per IP per window (0 = no IP or no limit)
-- Returns {outcome, retry_after_ms, limit, lock_started, remaining}; outcome is approved,
-- invalid, already_used (a spent code: not counted as a failure, it is no guess),
-- locked, rate_limited or not_found (the user has no recovery codes).
local ip_max = tonumber(A.ip_max)
if ip_max > 0 then
  if tonumber(redis.call('GET', K.ip_verifies) or '0') >= ip_max then
    return {'rate_limited', redis.call('PTTL', K.ip_verifies), 'client_ip_verify', 0, 0}
  end
  if redis.call('INCR', K.ip_verifies) == 1 then redis.call('PEXPIRE', K.ip_verifies, A.ip_window) end
end

local remaining = tonumber(redis.call('HGET', K.recovery, 'remaining') or '-1')
if remaining < 0 then return {'not_found', 0, '', 0, 0} end
local locked = redis.call('PTTL', K.user_lock)
if locked > 0 then return {'locked', locked, 'user_ref', 0, remaining} end

local spent = false
for candidate in string.gmatch(A.candidates, '[^,]+') do
  local state = redis.call('HGET', K.recovery, 'c:' .. candidate)
  if state == '0' then
    remaining = redis.call('HINCRBY', K.recovery, 'remaining', -1)
    redis.call('HSET', K.recovery, 'c:' .. candidate, A.now, 'last_used_at', A.now)
    redis.call('DEL', K.user_fails)
    return {'approved', 0, '', 0, remaining}
  end
  if state then spent = true end
end
if spent then return {'already_used', 0, '', 0, remaining} end
local lock_ms = count_failure(K.user_fails, K.user_lock, K.user_level, tonumber(A.threshold), tonumber(A.window),
                              tonumber(A.base), tonumber(A.longest), tonumber(A.memory))
if lock_ms > 0 then return {'locked', lock_ms, 'user_ref', 1, remaining} end
return {'invalid', 0, '', 0, remaining}
