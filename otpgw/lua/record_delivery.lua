-- record_delivery.lua: apply a delivery event (worker outcome or delivery report).
-- KEYS[1] code record
-- ARGV[1] status   ARGV[2] transport ('' = keep)   ARGV[3] now (ms)
-- ARGV[4] carrier ids, comma-separated ('' = keep)   ARGV[5] detail ('' = keep)
-- Returns 1 if the record changed, 0 if unknown or the event is stale.
return update_delivery(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
