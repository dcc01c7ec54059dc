-- record_delivery.lua: apply a delivery event (a carrier's report, a modem's +CDS).
-- KEYS
--   codes            the phone's code records (hash)
--   outbox           the webhook outbox stream (a change is posted to the client's webhook)
-- ARGV
--   id               the code's id
--   status           queued | sent | delivered | undelivered | failed
--   transport        the transport ('' = keep)
--   now              ms
--   carrier_ids      comma-separated ('' = keep)
--   detail           a short text for the status ('' = none)
--   error_code       the carrier's error code ('' = none)
--   parts            segments submitted (0 = keep)
--   part             the carrier id of the one part reported on ('' = the whole message)
-- Returns 1 if the record changed, 0 if unknown or the event is stale.
local changed = update_delivery(K.codes, A.id, A)
if changed == 1 then emit_delivery(K.outbox, K.codes, A.id, A.now) end
return changed
