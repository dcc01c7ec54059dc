-- release_lock.lua: an operator releases a lockout (phone or user_ref).
-- KEYS[1] lock   KEYS[2] failure counter   KEYS[3] lockout level
-- Returns 1 if a lock was in force, else 0 (counters are cleared either way).
local was = redis.call('EXISTS', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return was
