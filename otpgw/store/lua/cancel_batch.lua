-- cancel_batch.lua: stop what has not left yet. The messages still in the batch's
-- pending list are dropped and counted canceled at once; those already on the bulk lane
-- are canceled by the worker that takes them (begin_attempt sees the state); a message
-- in flight at this moment goes out. When nothing is left on the lane the batch is
-- completed here, with its summary.
-- KEYS
--   meta             the batch's hash
--   pending          the batch's messages not yet on the lane (list)
--   schedule         the schedule (zset: batch id -> due ms)
--   outbox           the webhook outbox stream
-- ARGV
--   batch            the batch id
--   client           the calling client
--   now              ms
-- Returns the batch's state after the call, or 'not_found' (no such batch of this client).
local b = redis.call('HMGET', K.meta, 'client', 'state', 'total', 'hook')
if not b[1] or b[1] ~= A.client or b[2] == 'writing' then return 'not_found' end
if b[2] == 'canceled' or b[2] == 'completed' then return b[2] end
local dropped = redis.call('LLEN', K.pending)
redis.call('DEL', K.pending)
redis.call('ZREM', K.schedule, A.batch)
redis.call('HINCRBY', K.meta, 'n_canceled', dropped)
redis.call('HSET', K.meta, 'state', 'canceled', 'canceled_at', ms(A.now))
local c = redis.call('HMGET', K.meta, 'n_sent', 'n_delivered', 'n_undelivered', 'n_failed', 'n_canceled')
local counts, done = {}, 0
for i, name in ipairs({'sent', 'delivered', 'undelivered', 'failed', 'canceled'}) do
  counts[name] = tonumber(c[i] or 0)
  done = done + counts[name]
end
if done >= tonumber(b[3]) and redis.call('HSETNX', K.meta, 'completed_at', ms(A.now)) == 1 and b[4] == '1' then
  redis.call('XADD', K.outbox, 'MAXLEN', '~', 100000, '*', 'type', 'batch.completed', 'code', A.batch,
             'client', b[1], 'status', 'canceled', 'reason', cjson.encode(counts), 'at', ms(A.now))
end
return 'canceled'
