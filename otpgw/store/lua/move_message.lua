-- move_message.lua: take a message off a lane to try it again later or elsewhere.
-- Used for a retry after a back-off, a fail-over to the next transport of its route, and
-- a hand-off to the lane of a transport another worker owns (a modem). The entry waits
-- in the target lane's retry set until its due time; the target lane's workers promote it.
-- KEYS
--   lane             the lane's stream the entry was read from
--   retries          the target lane's retry set (zset by due time)
--   codes            the phone's code records (hash)
-- ARGV
--   group            the consumer group
--   entry            the stream entry id
--   id               the code's id
--   due              when to try again (ms)
--   fields           the entry's fields for the target lane (JSON object)
--   now              ms
--   detail           what happened, for the code's delivery record ('' = keep)
--   transport        the transport of the failed attempt ('' = keep)
--   lane_ttl         how long an idle lane is kept (ms)
-- Returns 1 if moved, 0 if another worker had already acknowledged the entry.
if redis.call('XACK', K.lane, A.group, A.entry) == 0 then return 0 end
redis.call('XDEL', K.lane, A.entry)
redis.call('ZADD', K.retries, A.due, A.fields)
redis.call('PEXPIRE', K.retries, A.lane_ttl)
local rec = load_record(K.codes, A.id)
if rec and A.detail ~= '' then  -- never recreate a record that expired
  rec.delivery_detail, rec.delivery_updated_at = A.detail, ms(A.now)
  if A.transport ~= '' then rec.transport = A.transport end
  save_record(K.codes, A.id, rec)
end
return 1
