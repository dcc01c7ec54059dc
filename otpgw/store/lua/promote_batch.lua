-- promote_batch.lua: move the next messages of a due batch onto the bulk lane.
-- Each message leaves the batch's pending list in the same step that adds it to the
-- lane, so it is promoted exactly once, however many schedulers run this at once and
-- however often they retry. The lane is kept short (backlog): messages wait in their
-- batch, not on the lane, so batches take turns and a cancel still catches them. A batch
-- whose pending list is empty leaves the schedule; one canceled or gone leaves it too.
-- KEYS
--   schedule         the schedule (zset: batch id -> due ms)
--   meta             the batch's hash
--   pending          the batch's messages not yet on the lane (list)
--   lane             the bulk lane's stream
--   retries          the bulk lane's retry set (counted in its backlog)
--   outbox           the webhook outbox stream
-- ARGV
--   batch            the batch id
--   now              ms
--   count            the most messages to move
--   backlog          the most messages the bulk lane may hold (stream and retry set)
--   lane_ttl         how long an idle bulk lane is kept (ms)
-- Returns the number of messages moved.
local due = redis.call('ZSCORE', K.schedule, A.batch)
if not due or tonumber(due) > tonumber(A.now) then return 0 end
local b = redis.call('HMGET', K.meta, 'state', 'promoted', 'deadline', 'client', 'announce')
if b[1] ~= 'scheduled' and b[1] ~= 'sending' then
  redis.call('ZREM', K.schedule, A.batch)
  return 0
end
local room = tonumber(A.backlog) - redis.call('XLEN', K.lane) - redis.call('ZCARD', K.retries)
local n = math.min(tonumber(A.count), room)
if n <= 0 then return 0 end
local items = redis.call('LRANGE', K.pending, 0, n - 1)
redis.call('LTRIM', K.pending, #items, -1)
local first, announce = tonumber(b[2]), b[5] == '1'
for i, item in ipairs(items) do
  local id = A.batch .. '-' .. (first + i - 1)
  redis.call('XADD', K.lane, '*', 'id', id, 'sealed', string.sub(item, 17), 'deadline', b[3], 'attempt', '0',
             'kind', 'message', 'tag', string.sub(item, 1, 16))
  if announce then  -- a scheduled message's status changes now: it is queued
    redis.call('XADD', K.outbox, 'MAXLEN', '~', 100000, '*', 'type', 'message.queued', 'code', id,
               'client', b[4], 'status', 'queued', 'reason', '', 'at', ms(A.now))
  end
end
redis.call('HINCRBY', K.meta, 'promoted', #items)
if b[1] == 'scheduled' then redis.call('HSET', K.meta, 'state', 'sending') end
if redis.call('LLEN', K.pending) == 0 then redis.call('ZREM', K.schedule, A.batch) end
if #items > 0 then redis.call('PEXPIRE', K.lane, A.lane_ttl) end
return #items
