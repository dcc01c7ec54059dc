-- release_lock.lua: an operator releases a lockout (phone or user_ref).
-- KEYS
--   lock             the lockout flag
--   fails            the failure counter
--   level            the lockout level (how often it locked)
-- ARGV
-- Returns 1 if a lock was in force, else 0 (counters are cleared either way).
local was = redis.call('EXISTS', K.lock)
redis.call('DEL', K.lock, K.fails, K.level)
return was
