-- create_batch.lua: open a batch of /messages, the first step of writing it.
-- With an Idempotency-Key, a repeat of a written batch returns it and writes nothing; the
-- same key with another request is refused; a repeat while the first is still being
-- written is told so. Counts the batch's recipients toward the client's daily cap, then
-- creates the batch in state 'writing': append_messages adds its messages and
-- commit_batch puts it on the schedule. A batch never committed is never sent; its keys
-- expire.
-- KEYS
--   meta             the batch's hash
--   idempotency      the first batch under the caller's Idempotency-Key (a placeholder without one)
--   client_day       the client's recipients counter for this UTC day
-- ARGV
--   batch            the batch id
--   now              ms
--   client           the calling client
--   total            how many messages the batch has
--   send_at          when its messages may leave (ms)
--   deadline         when a message still waiting fails (ms; also the carrier validity)
--   sealed           the sealed text, sender and reference
--   segments         segments per message
--   encoding         gsm7 | ucs2
--   hook             1 if the client has a webhook (the batch's events go to the outbox)
--   day_cap          the client's recipients per UTC day (0 = none)
--   day_left         ms until the UTC day ends
--   retention        how long the batch's records outlive its deadline (ms)
--   request          keyed digest of the request under an Idempotency-Key ('' = no key)
--   opted_out        JSON array of the request positions skipped for an opt-out
--   writing_ttl      how long a batch being written holds its Idempotency-Key (ms)
-- Returns {'ok'}, {'replayed', batch_id, opted_out}, {'idempotency_mismatch'},
-- {'in_progress'} or {'rate_limited', retry_after_ms, limit}.
local now = tonumber(A.now)
if A.request ~= '' then
  local seen = redis.call('GET', K.idempotency)
  if seen then
    local first = cjson.decode(seen)
    if first.request ~= A.request then return {'idempotency_mismatch'} end
    if first.state ~= 'done' then return {'in_progress'} end
    return {'replayed', first.batch, first.opted_out}
  end
end
local cap, total = tonumber(A.day_cap), tonumber(A.total)
if cap > 0 then
  local used = tonumber(redis.call('GET', K.client_day) or '0')
  if used + total > cap then return {'rate_limited', ms(A.day_left), 'client_daily_recipients'} end
  if redis.call('INCRBY', K.client_day, total) == total then
    redis.call('PEXPIRE', K.client_day, ms(A.day_left) + 3600000)
  end
end
redis.call('HSET', K.meta, 'client', A.client, 'state', 'writing', 'created', A.now, 'send_at', A.send_at,
           'deadline', A.deadline, 'sealed', A.sealed, 'segments', A.segments, 'encoding', A.encoding,
           'total', total, 'written', 0, 'promoted', 0, 'hook', A.hook)
redis.call('PEXPIRE', K.meta, ms(tonumber(A.deadline) - now + tonumber(A.retention)))
if A.request ~= '' then
  redis.call('SET', K.idempotency, cjson.encode({request = A.request, batch = A.batch, state = 'writing',
                                                 opted_out = A.opted_out}), 'PX', A.writing_ttl)
end
return {'ok'}
