-- finish_message.lua: a worker is done with a queued message (sent or failed for good).
-- Acknowledge, delete the sealed entry, and record the outcome, in one step so a crash
-- can never leave a message acknowledged but its outcome unrecorded.
-- KEYS[1] transport stream   KEYS[2] code record
-- ARGV[1] consumer group     ARGV[2] stream entry id
-- ARGV[3..7] as record_delivery.lua: status, transport, now, carrier ids, detail
-- Returns 1 if this call acknowledged the entry, 0 if another worker already had.
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if acked == 1 then update_delivery(KEYS[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]) end
return acked
