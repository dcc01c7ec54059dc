-- promote_due.lua: put a lane's messages whose back-off has passed back on its stream.
-- KEYS
--   lane             the lane's stream
--   retries          the lane's retry set (zset by due time)
-- ARGV
--   now              ms
--   limit            the most entries to move
-- Returns the number of entries moved.
local due = redis.call('ZRANGEBYSCORE', K.retries, '-inf', A.now, 'LIMIT', 0, tonumber(A.limit))
for _, entry in ipairs(due) do
  local fields, flat = cjson.decode(entry), {}
  for name, value in pairs(fields) do
    flat[#flat + 1] = name
    flat[#flat + 1] = tostring(value)
  end
  redis.call('XADD', K.lane, '*', unpack(flat))
  redis.call('ZREM', K.retries, entry)
end
return #due
