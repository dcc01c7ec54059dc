-- prepare_lane.lua: make a lane readable, then put its messages whose back-off has passed
-- back on its stream. A worker runs it for each of its lanes before each read, so a lane
-- that expired while idle (or was lost in a Redis restart) is back, with its consumer
-- group, before a blocking read could fail on it.
-- KEYS
--   lane             the lane's stream
--   retries          the lane's retry set (zset by due time)
-- ARGV
--   group            the consumer group
--   now              ms
--   limit            the most entries to move
--   lane_ttl         how long an idle lane is kept (ms)
-- Returns the number of entries moved.
local created = redis.pcall('XGROUP', 'CREATE', K.lane, A.group, '0', 'MKSTREAM')
if type(created) ~= 'table' or not created.err then
  redis.call('PEXPIRE', K.lane, A.lane_ttl)  -- a new lane: it expires like one a send made
end
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
if #due > 0 then redis.call('PEXPIRE', K.lane, A.lane_ttl) end
return #due
