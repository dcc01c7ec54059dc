-- cancel_code.lua: end a pending code at the caller's request.
-- KEYS[1] code record   KEYS[2] code digest
-- ARGV[1] id   ARGV[2] calling client   ARGV[3] now (ms)
-- Returns the code's status after the call ('canceled', or the status it already had),
-- or 'not_found' when there is no such code for this client.
local rec = redis.call('HMGET', KEYS[1], 'status', 'client', 'expires_at')
if not rec[1] or rec[2] ~= ARGV[2] then return 'not_found' end
local now = tonumber(ARGV[3])
if rec[1] ~= 'pending' then return rec[1] end
local status = 'canceled'
if now >= tonumber(rec[3]) then status = 'expired' end
redis.call('HSET', KEYS[1], 'status', status, 'ended_at', now)
redis.call('DEL', KEYS[2])
return status
