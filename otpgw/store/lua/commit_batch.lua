-- commit_batch.lua: a batch is written whole: put it on the schedule, so its messages go
-- onto the bulk lane at its send_at (now, for a batch without one). A batch with
-- fewer messages than it announced (a write cut short) is not committed, so it is never
-- sent, and its Idempotency-Key is freed when its short hold ends.
-- KEYS
--   meta             the batch's hash
--   schedule         the schedule (zset: batch id -> due ms)
--   idempotency      the first batch under the caller's Idempotency-Key (a placeholder without one)
-- ARGV
--   batch            the batch id
--   now              ms
--   idem_ttl         how long an Idempotency-Key is remembered (ms; 0 = no key)
-- Returns 1 if committed, 0 if the batch was not being written or is incomplete.
local b = redis.call('HMGET', K.meta, 'state', 'written', 'total', 'send_at', 'hook')
if b[1] ~= 'writing' or tonumber(b[2]) ~= tonumber(b[3]) then return 0 end
local send_at = tonumber(b[4])
local state = 'sending'
if send_at > tonumber(A.now) then state = 'scheduled' end
redis.call('HSET', K.meta, 'state', state)
if state == 'scheduled' and b[5] == '1' then  -- its messages' move to the lane is reported
  redis.call('HSET', K.meta, 'announce', 1)
end
redis.call('ZADD', K.schedule, send_at, A.batch)
if tonumber(A.idem_ttl) > 0 then
  local seen = redis.call('GET', K.idempotency)
  if seen then
    local first = cjson.decode(seen)
    if first.batch == A.batch then
      first.state = 'done'
      redis.call('SET', K.idempotency, cjson.encode(first), 'PX', A.idem_ttl)
    end
  end
end
return 1
