-- cancel_code.lua: end a pending code at the caller's request.
-- KEYS
--   codes            the phone's code records (hash)
--   digest           the calling client's live digest for this phone
-- ARGV
--   id               the code's id
--   client           the calling client
--   now              ms
-- Returns the code's status after the call ('canceled', or the status it already had),
-- or 'not_found' when there is no such code for this client.
local rec = load_record(K.codes, A.id)
if not rec or rec.client ~= A.client then return 'not_found' end
if rec.status ~= 'pending' then return rec.status end
local now = tonumber(A.now)
rec.status = 'canceled'
if now >= tonumber(rec.expires_at) then rec.status = 'expired' end
rec.ended_at = now
save_record(K.codes, A.id, rec)
local live = redis.call('GET', K.digest)
if live and string.sub(live, 1, #A.id) == A.id then redis.call('DEL', K.digest) end
return rec.status
