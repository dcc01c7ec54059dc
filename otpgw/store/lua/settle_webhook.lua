-- settle_webhook.lua: the outcome of one webhook delivery attempt.
-- Done (delivered, or given up): acknowledge and delete the event. Failed: acknowledge
-- it off the consumer group and schedule the next attempt in the retry set.
-- KEYS
--   outbox           the webhook outbox stream
--   retries          zset: entry id -> when its next attempt is due (ms)
--   attempts         hash: entry id -> failed attempts so far
-- ARGV
--   group            the dispatchers' consumer group
--   entry            the stream entry id
--   due              when to try again (ms); 0 = done
--   attempt          failed attempts so far (with this one)
-- Returns 1.
redis.call('XACK', K.outbox, A.group, A.entry)
if tonumber(A.due) == 0 then
  redis.call('XDEL', K.outbox, A.entry)
  redis.call('ZREM', K.retries, A.entry)
  redis.call('HDEL', K.attempts, A.entry)
else
  redis.call('ZADD', K.retries, A.due, A.entry)
  redis.call('HSET', K.attempts, A.entry, A.attempt)
end
return 1
