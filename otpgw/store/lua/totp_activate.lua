-- totp_activate.lua: the first correct code makes a pending enrolment the active factor.
-- KEYS
--   pending          the user's pending enrolment (hash)
--   active           the user's active TOTP factor (hash), replaced by the enrolment
--   user_lock        the user_ref's lockout flag
--   user_fails       the user_ref's failure counter
--   user_level       the user_ref's lockout level
-- ARGV
--   now              ms
--   id               the enrolment the service read the secret of
--   expected         step:digest of the expected code of each step in the window, comma-separated
--   submitted        digest of the submitted code
--   threshold        failures before a lockout
--   window           failure window (ms)
--   base             first lockout (ms)
--   longest          longest lockout (ms)
--   memory           how long a lockout level is remembered (ms)
-- Returns {outcome, retry_after_ms, limit, lock_started}; outcome is approved, invalid,
-- locked, not_found or changed (the enrolment was replaced since the service read it:
-- nothing counted). A wrong code counts toward the user_ref's lockout like any other.
local id = redis.call('HGET', K.pending, 'id')
if not id then return {'not_found', 0, '', 0} end
if id ~= A.id then return {'changed', 0, '', 0} end
local locked = redis.call('PTTL', K.user_lock)
if locked > 0 then return {'locked', locked, 'user_ref', 0} end

local matched = nil
for step, digest in string.gmatch(A.expected, '(%d+):(%x+)') do
  if digest == A.submitted and not matched then matched = step end
end
if matched then
  redis.call('RENAME', K.pending, K.active)
  redis.call('PERSIST', K.active)
  redis.call('HDEL', K.active, 'expires_at')
  redis.call('HSET', K.active, 'status', 'active', 'activated_at', A.now, 'last_step', matched)
  redis.call('DEL', K.user_fails)
  return {'approved', 0, '', 0}
end
local lock_ms = count_failure(K.user_fails, K.user_lock, K.user_level, tonumber(A.threshold), tonumber(A.window),
                              tonumber(A.base), tonumber(A.longest), tonumber(A.memory))
if lock_ms > 0 then return {'locked', lock_ms, 'user_ref', 1} end
return {'invalid', 0, '', 0}
