-- totp_enroll.lua: start a TOTP enrolment; it stays pending until its first code.
-- KEYS
--   pending          the user's pending enrolment (hash, expires)
--   active           the user's active TOTP factor (hash)
-- ARGV
--   now              ms
--   id               the new factor's id
--   sealed           the secret, sealed (never in clear)
--   digits           code length
--   period           time step, seconds
--   algorithm        SHA1, SHA256 or SHA512
--   expires          when the enrolment ends unless activated (ms)
--   replace          1: allowed beside an active factor, which it replaces on activation
-- Returns 'ok', or 'exists' when an active factor stands and replace is 0 (nothing
-- changed). A new enrolment always supersedes an earlier pending one.
if A.replace ~= '1' and redis.call('EXISTS', K.active) == 1 then return 'exists' end
redis.call('DEL', K.pending)
redis.call('HSET', K.pending, 'id', A.id, 'secret', A.sealed, 'status', 'pending', 'created_at', A.now,
           'expires_at', A.expires, 'digits', A.digits, 'period', A.period, 'algorithm', A.algorithm)
redis.call('PEXPIREAT', K.pending, A.expires)
return 'ok'
