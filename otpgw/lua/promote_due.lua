-- promote_due.lua: put retries whose time has come back on the transport stream.
-- KEYS[1] transport stream   KEYS[2] retry set
-- ARGV[1] now (ms)   ARGV[2] most entries to move   ARGV[3] stream ttl (ms)
-- Returns the number of entries moved.
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, entry in ipairs(due) do
  local fields = cjson.decode(entry)
  redis.call('XADD', KEYS[1], '*', 'id', fields.id, 'sealed', fields.sealed,
             'deadline', fields.deadline, 'attempt', fields.attempt)
  redis.call('ZREM', KEYS[2], entry)
end
if #due > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return #due
