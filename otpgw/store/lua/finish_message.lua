-- finish_message.lua: a worker is done with a queued message (sent, or failed for good).
-- Acknowledge, delete the sealed entry, and record the outcome, in one step so a crash
-- can never leave a message acknowledged but its outcome unrecorded.
-- KEYS
--   lane             the lane's stream the entry was read from
--   codes            the phone's code records (hash)
--   outbox           the webhook outbox stream (a change is posted to the client's webhook)
-- ARGV
--   group            the consumer group
--   entry            the stream entry id
--   id               the code's id
--   status           sent | failed
--   transport        the transport that took (or last tried) the message
--   now              ms
--   carrier_ids      comma-separated ('' = none)
--   detail           a short text for the status ('' = none)
--   error_code       the carrier's error code ('' = none)
--   parts            segments submitted (0 = unknown)
--   part             always '' (the whole message)
-- Returns 1 if this call acknowledged the entry, 0 if another worker already had.
local acked = redis.call('XACK', K.lane, A.group, A.entry)
redis.call('XDEL', K.lane, A.entry)
if acked == 1 and update_delivery(K.codes, A.id, A) == 1 then emit_delivery(K.outbox, K.codes, A.id, A.now) end
return acked
