-- totp_verify.lua: one TOTP code against the active factor, each time step accepted once.
-- KEYS
--   factor           the user's active TOTP factor (hash)
--   ip_verifies      the client IP's verify counter (a placeholder without an IP)
--   user_lock        the user_ref's lockout flag
--   user_fails       the user_ref's failure counter
--   user_level       the user_ref's lockout level
-- ARGV
--   now              ms
--   id               the factor the service read the secret of
--   expected         step:digest of the expected code of each step in the window, comma-separated
--   submitted        digest of the submitted code
--   resealed         the secret sealed under the current key ('' = keep the stored one)
--   threshold        failures before a lockout
--   window           failure window (ms)
--   base             first lockout (ms)
--   longest          longest lockout (ms)
--   memory           how long a lockout level is remembered (ms)
--   ip_window        IP window (ms)
--   ip_max           verifies allowed per IP per window (0 = no IP or no limit)
-- Returns {outcome, retry_after_ms, limit, lock_started}; outcome is approved, invalid,
-- already_used (the code of a step at or before the last accepted one: RFC 6238 5.2;
-- not counted as a failure, it is no guess), locked, rate_limited, not_found, changed
-- (the factor was replaced since the service read it: nothing counted).
local ip_max = tonumber(A.ip_max)
if ip_max > 0 then
  if tonumber(redis.call('GET', K.ip_verifies) or '0') >= ip_max then
    return {'rate_limited', redis.call('PTTL', K.ip_verifies), 'client_ip_verify', 0}
  end
  if redis.call('INCR', K.ip_verifies) == 1 then redis.call('PEXPIRE', K.ip_verifies, A.ip_window) end
end

local id = redis.call('HGET', K.factor, 'id')
if not id then return {'not_found', 0, '', 0} end
if id ~= A.id then return {'changed', 0, '', 0} end
local locked = redis.call('PTTL', K.user_lock)
if locked > 0 then return {'locked', locked, 'user_ref', 0} end

local last = tonumber(redis.call('HGET', K.factor, 'last_step') or '-1')
local matched, replayed = nil, false
for step, digest in string.gmatch(A.expected, '(%d+):(%x+)') do
  if digest == A.submitted then
    if tonumber(step) <= last then replayed = true
    elseif not matched then matched = step end
  end
end
if matched then
  redis.call('HSET', K.factor, 'last_step', matched, 'last_used_at', A.now)
  if A.resealed ~= '' then redis.call('HSET', K.factor, 'secret', A.resealed) end
  redis.call('DEL', K.user_fails)
  return {'approved', 0, '', 0}
end
if replayed then return {'already_used', 0, '', 0} end
local lock_ms = count_failure(K.user_fails, K.user_lock, K.user_level, tonumber(A.threshold), tonumber(A.window),
                              tonumber(A.base), tonumber(A.longest), tonumber(A.memory))
if lock_ms > 0 then return {'locked', lock_ms, 'user_ref', 1} end
return {'invalid', 0, '', 0}
