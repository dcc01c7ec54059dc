-- update_message.lua: a status change of one message of a batch, from the worker that
-- took it off the lane (sent, failed, canceled) or from a delivery report (entry '').
-- The worker's call acknowledges and deletes the lane entry in the same step, so a crash
-- never leaves a message acknowledged without its outcome. The record moves only forward
-- (the rule of apply_delivery, shared with codes); the batch's counters follow each
-- change, the change is reported to the client's webhook, and when no message of the
-- batch waits any more the batch is completed and its summary reported, once.
-- KEYS
--   lane             the lane's stream the entry was read from (unused for a report)
--   meta             the batch's hash
--   records          the batch's message records (hash: position -> JSON)
--   sender           the recipient's last-sender key: who its replies belong to
--   outbox           the webhook outbox stream
-- ARGV
--   group            the consumer group
--   entry            the stream entry id ('' = a delivery report)
--   index            the message's position in its batch
--   id               the message id (for events)
--   status           sent | delivered | undelivered | failed | canceled
--   transport        the transport ('' = keep)
--   now              ms
--   carrier_ids      comma-separated ('' = keep)
--   detail           a short text for the status ('' = none)
--   error_code       the carrier's error code ('' = none)
--   parts            segments submitted (0 = keep)
--   part             the carrier id of the one part reported on ('' = the whole message)
--   sender_ttl       how long replies from the recipient belong to this client (ms)
-- Returns 1 if the record changed, 0 if not (a stale report, an entry another worker
-- had, a batch gone).
if A.entry ~= '' then
  local acked = redis.call('XACK', K.lane, A.group, A.entry)
  redis.call('XDEL', K.lane, A.entry)
  if acked == 0 then return 0 end
end
local b = redis.call('HMGET', K.meta, 'client', 'hook', 'total', 'state')
if not b[1] then return 0 end
if A.entry ~= '' and A.status == 'sent' then  -- it left for the handset: a reply is this client's
  redis.call('SET', K.sender, b[2] .. b[1], 'PX', A.sender_ttl)
end
local raw = redis.call('HGET', K.records, A.index)
local rec = (raw and cjson.decode(raw)) or {delivery_status = 'queued'}
local before = rec.delivery_status
if before == 'canceled' then return 0 end
if A.status == 'canceled' then
  if before ~= 'queued' then return 0 end
  rec.delivery_status, rec.delivery_updated_at = 'canceled', ms(A.now)
elseif not apply_delivery(rec, {status = A.status, transport = A.transport, now = A.now, detail = A.detail,
                                carrier_ids = A.carrier_ids, error_code = A.error_code, parts = A.parts,
                                part = A.part}) then
  return 0
end
redis.call('HSET', K.records, A.index, cjson.encode(rec))
if redis.call('PTTL', K.records) < 0 then redis.call('PEXPIRE', K.records, redis.call('PTTL', K.meta)) end
local after = rec.delivery_status
if after == before then return 1 end
if before ~= 'queued' then redis.call('HINCRBY', K.meta, 'n_' .. before, -1) end
redis.call('HINCRBY', K.meta, 'n_' .. after, 1)
local hooked = b[2] == '1'
if hooked and after ~= 'canceled' then
  redis.call('XADD', K.outbox, 'MAXLEN', '~', 100000, '*', 'type', 'message.' .. after, 'code', A.id,
             'client', b[1], 'status', after, 'reason', rec.error_code or '', 'at', ms(A.now))
end
if before ~= 'queued' then return 1 end
-- A message left the queue: the batch is complete when none waits any more.
local c = redis.call('HMGET', K.meta, 'n_sent', 'n_delivered', 'n_undelivered', 'n_failed', 'n_canceled')
local counts, done = {}, 0
for i, name in ipairs({'sent', 'delivered', 'undelivered', 'failed', 'canceled'}) do
  counts[name] = tonumber(c[i] or 0)
  done = done + counts[name]
end
if done >= tonumber(b[3]) and redis.call('HSETNX', K.meta, 'completed_at', ms(A.now)) == 1 then
  if b[4] ~= 'canceled' then redis.call('HSET', K.meta, 'state', 'completed') end
  if hooked then
    redis.call('XADD', K.outbox, 'MAXLEN', '~', 100000, '*', 'type', 'batch.completed', 'code',
               string.match(A.id, '^[^-]+'), 'client', b[1], 'status', b[4] == 'canceled' and 'canceled' or
               'completed', 'reason', cjson.encode(counts), 'at', ms(A.now))
  end
end
return 1
