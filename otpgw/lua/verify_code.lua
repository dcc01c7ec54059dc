-- verify_code.lua: one verification attempt, counted before the comparison.
-- KEYS[1] newest code id of this phone and client   KEYS[2] phone lock
-- KEYS[3] phone failure counter    KEYS[4] phone lockout level
-- KEYS[5] client IP verify counter (ignored when ARGV[14] == '0')
-- ARGV[1]  now (ms)                ARGV[2]  id ('' = the newest code in KEYS[1])
-- ARGV[3]  record key prefix       ARGV[4]  digest key prefix
-- ARGV[5]  calling client          ARGV[6]  user_ref tag given ('' = not given)
-- ARGV[7]  attempts per code       ARGV[8]  failures before lockout
-- ARGV[9]  failure window (ms)     ARGV[10] first lockout (ms)
-- ARGV[11] longest lockout (ms)    ARGV[12] lockout level memory (ms)
-- ARGV[13] IP window (ms)          ARGV[14] IP verifies allowed per window (0: none)
-- ARGV[15..] candidate digests of the submitted code, one per secret key
-- Returns {outcome, id, attempts_left, retry_after_ms, limit_name}; outcome is one of
-- approved, invalid, not_found, locked, rate_limited, expired, max_attempts,
-- already_used, canceled. An invalid attempt that starts a lockout returns 'locked' with a
-- sixth element 1.
local now = tonumber(ARGV[1])
local max_attempts = tonumber(ARGV[7])

local ip_max = tonumber(ARGV[14])
if ip_max > 0 then
  if tonumber(redis.call('GET', KEYS[5]) or '0') >= ip_max then
    return {'rate_limited', ARGV[2], 0, redis.call('PTTL', KEYS[5]), 'client_ip_verify'}
  end
  if redis.call('INCR', KEYS[5]) == 1 then redis.call('PEXPIRE', KEYS[5], ARGV[13]) end
end

local id = ARGV[2]
if id == '' then id = redis.call('GET', KEYS[1]) or '' end
if id == '' then return {'not_found', '', 0, 0, ''} end
local record = ARGV[3] .. id
local rec = redis.call('HMGET', record, 'status', 'client', 'utag', 'attempts', 'expires_at',
                       'ufails', 'ulock', 'ulevel')
local status, client, utag = rec[1], rec[2], rec[3]
-- Binding: a code answers only to the client that asked for it and its own user_ref.
if not status or client ~= ARGV[5] or (ARGV[6] ~= '' and ARGV[6] ~= utag) then
  return {'not_found', '', 0, 0, ''}
end
local attempts = tonumber(rec[4])
local ufails, ulock, ulevel = rec[6], rec[7], rec[8]

local locked = redis.call('PTTL', KEYS[2])
if locked > 0 then return {'locked', id, max_attempts - attempts, locked, 'phone'} end
if ulock ~= '' then
  locked = redis.call('PTTL', ulock)
  if locked > 0 then return {'locked', id, max_attempts - attempts, locked, 'user_ref'} end
end

local digest_key = ARGV[4] .. id
local stored = redis.call('GET', digest_key)
if status == 'pending' and (now >= tonumber(rec[5]) or not stored) then
  status = 'expired'
  redis.call('HSET', record, 'status', status, 'ended_at', now)
end
if status == 'approved' then return {'already_used', id, 0, 0, ''} end
if status ~= 'pending' then return {status, id, 0, 0, ''} end

attempts = redis.call('HINCRBY', record, 'attempts', 1)
for i = 15, #ARGV do
  if ARGV[i] == stored then
    redis.call('HSET', record, 'status', 'approved', 'ended_at', now)
    redis.call('DEL', digest_key, KEYS[3])
    if ufails ~= '' then redis.call('DEL', ufails) end
    return {'approved', id, max_attempts - attempts, 0, ''}
  end
end

local left = max_attempts - attempts
if left <= 0 then
  redis.call('HSET', record, 'status', 'max_attempts', 'ended_at', now)
  redis.call('DEL', digest_key)
  left = 0
end
local threshold, window = tonumber(ARGV[8]), tonumber(ARGV[9])
local base, longest, memory = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local lock_ms = count_failure(KEYS[3], KEYS[2], KEYS[4], threshold, window, base, longest, memory)
local limit = 'phone'
if ufails ~= '' then
  local user_ms = count_failure(ufails, ulock, ulevel, threshold, window, base, longest, memory)
  if user_ms > lock_ms then lock_ms, limit = user_ms, 'user_ref' end
end
if lock_ms > 0 then return {'locked', id, left, lock_ms, limit, 1} end
return {'invalid', id, left, 0, ''}
