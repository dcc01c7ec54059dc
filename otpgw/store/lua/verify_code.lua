-- verify_code.lua: one verification attempt, counted before the comparison.
-- KEYS
--   codes            the phone's code records (hash)
--   digest           the calling client's live digest for this phone
--   phone_lock       the phone's lockout flag
--   phone_fails      the phone's failure counter
--   phone_level      the phone's lockout level
--   ip_verifies      the client IP's verify counter (a placeholder without an IP)
--   user_lock        the user_ref's lockout flag (placeholders without a user_ref)
--   user_fails       the user_ref's failure counter
--   user_level       the user_ref's lockout level
--   outbox           the webhook outbox stream (approved, max_attempts and locked events)
-- ARGV
--   now              ms
--   id               the code's id ('' = the newest code of this phone and client)
--   client           the calling client
--   user             the user_ref tag given ('' = none)
--   candidates       kid:HMAC of the submitted code under each key this process knows, comma-separated
--   max_attempts     attempts per code
--   threshold        failures before a lockout
--   window           failure window (ms)
--   base             first lockout (ms)
--   longest          longest lockout (ms)
--   memory           how long a lockout level is remembered (ms)
--   ip_window        IP window (ms)
--   ip_max           verifies allowed per IP per window (0 = no IP or no limit)
-- Returns {outcome, id, attempts_left, retry_after_ms, limit_name}; outcome is one of
-- approved, invalid, not_found, locked, rate_limited, expired, max_attempts,
-- already_used, canceled, key_unknown (the code was made under a key the caller does
-- not know: nothing is counted). An invalid attempt that starts a lockout returns
-- 'locked' with a sixth element 1.
local now = tonumber(A.now)
local max_attempts = tonumber(A.max_attempts)

local ip_max = tonumber(A.ip_max)
if ip_max > 0 then
  if tonumber(redis.call('GET', K.ip_verifies) or '0') >= ip_max then
    return {'rate_limited', A.id, 0, redis.call('PTTL', K.ip_verifies), 'client_ip_verify'}
  end
  if redis.call('INCR', K.ip_verifies) == 1 then redis.call('PEXPIRE', K.ip_verifies, A.ip_window) end
end

local id = A.id
if id == '' then id = redis.call('HGET', K.codes, 'latest:' .. A.client) or '' end
if id == '' then return {'not_found', '', 0, 0, ''} end
local rec = load_record(K.codes, id)
-- Binding: a code answers only to the client that asked for it and to its own user_ref
-- (a code sent with a user_ref needs that user_ref; one sent without needs none).
if not rec or rec.client ~= A.client or rec.utag ~= A.user then
  return {'not_found', '', 0, 0, ''}
end
local attempts = tonumber(rec.attempts)

local locked = redis.call('PTTL', K.phone_lock)
if locked > 0 then return {'locked', id, max_attempts - attempts, locked, 'phone'} end
if A.user ~= '' then
  locked = redis.call('PTTL', K.user_lock)
  if locked > 0 then return {'locked', id, max_attempts - attempts, locked, 'user_ref'} end
end

local live = redis.call('GET', K.digest)
local stored = nil
if live and string.sub(live, 1, #id + 1) == id .. ':' then stored = string.sub(live, #id + 2) end
if rec.status == 'pending' and (now >= tonumber(rec.expires_at) or not stored) then
  rec.status, rec.ended_at = 'expired', now
  save_record(K.codes, id, rec)
end
if rec.status == 'approved' then return {'already_used', id, 0, 0, ''} end
if rec.status ~= 'pending' then return {rec.status, id, 0, 0, ''} end

-- The stored digest is kid:hex; only the candidate under the same key can match.
local kid = string.match(stored, '^([^:]+):') or ''
local known, matched = false, false
for candidate in string.gmatch(A.candidates, '[^,]+') do
  if string.sub(candidate, 1, #kid + 1) == kid .. ':' then
    known, matched = true, candidate == stored
  end
end
if not known then return {'key_unknown', id, max_attempts - attempts, 0, ''} end

attempts = attempts + 1
rec.attempts = attempts
if matched then
  rec.status, rec.ended_at = 'approved', now
  save_record(K.codes, id, rec)
  redis.call('DEL', K.digest, K.phone_fails)
  if A.user ~= '' then redis.call('DEL', K.user_fails) end
  emit_event(K.outbox, rec, id, 'code.approved', 'approved', 'approved', now)
  return {'approved', id, max_attempts - attempts, 0, ''}
end

local left = max_attempts - attempts
if left <= 0 then
  rec.status, rec.ended_at = 'max_attempts', now
  redis.call('DEL', K.digest)
  left = 0
  emit_event(K.outbox, rec, id, 'code.max_attempts', 'max_attempts', 'max_attempts', now)
end
save_record(K.codes, id, rec)
local threshold, window = tonumber(A.threshold), tonumber(A.window)
local base, longest, memory = tonumber(A.base), tonumber(A.longest), tonumber(A.memory)
local lock_ms = count_failure(K.phone_fails, K.phone_lock, K.phone_level, threshold, window, base, longest, memory)
local limit = 'phone'
if A.user ~= '' then
  local user_ms = count_failure(K.user_fails, K.user_lock, K.user_level, threshold, window, base, longest, memory)
  if user_ms > lock_ms then lock_ms, limit = user_ms, 'user_ref' end
end
if lock_ms > 0 then
  emit_event(K.outbox, rec, id, 'code.locked', rec.status, limit, now)
  return {'locked', id, left, lock_ms, limit, 1}
end
return {'invalid', id, left, 0, ''}
