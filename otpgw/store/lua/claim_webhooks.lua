-- claim_webhooks.lua: take the webhook events whose retry is due, under a lease.
-- A claimed event is not removed: its due time moves to now + lease, so if the
-- dispatcher dies mid-POST another one retries it when the lease runs out.
-- KEYS
--   outbox           the webhook outbox stream
--   retries          zset: entry id -> when its next attempt is due (ms)
--   attempts         hash: entry id -> failed attempts so far
-- ARGV
--   now              ms
--   lease            how long a claimed event stays with its claimer (ms)
--   count            the most events to claim
-- Returns {{entry_id, {field, value, ...}, attempts}, ...}; events trimmed from the
-- stream meanwhile are dropped.
local now = tonumber(A.now)
local claimed = {}
for _, entry in ipairs(redis.call('ZRANGEBYSCORE', K.retries, '-inf', now, 'LIMIT', 0, tonumber(A.count))) do
  local found = redis.call('XRANGE', K.outbox, entry, entry)
  if #found == 0 then
    redis.call('ZREM', K.retries, entry)
    redis.call('HDEL', K.attempts, entry)
  else
    redis.call('ZADD', K.retries, now + tonumber(A.lease), entry)
    table.insert(claimed, {entry, found[1][2], redis.call('HGET', K.attempts, entry) or '0'})
  end
end
return claimed
