-- recovery_generate.lua: a fresh set of recovery codes; the previous set is revoked.
-- KEYS
--   recovery         the user's recovery codes (hash: c:<kid:digest> -> 0 unused | ms used)
-- ARGV
--   now              ms
--   digests          kid:digest of each new code, comma-separated (never a code)
-- Returns the number of codes stored.
redis.call('DEL', K.recovery)
local n = 0
for digest in string.gmatch(A.digests, '[^,]+') do
  redis.call('HSET', K.recovery, 'c:' .. digest, 0)
  n = n + 1
end
redis.call('HSET', K.recovery, 'created_at', A.now, 'total', n, 'remaining', n)
return n
