-- store_inbound.lua: keep an inbound SMS for the client it belongs to, and report it.
-- The client's inbox is a stream trimmed by age (entries older than the retention go) and
-- expiring when idle for that long; its ids are the caller's times; the sender, recipient and text are sealed. The
-- event names the entry only: the webhook dispatcher opens it to post it.
-- KEYS
--   inbox            the client's inbound stream
--   outbox           the webhook outbox stream
-- ARGV
--   client           the client the message belongs to
--   sealed           the sealed sender, recipient and text
--   transport        the transport it came through
--   keyword          stop | start | none
--   now              ms
--   retention        how long an inbound message is kept (ms)
--   hook             1 if the client has a webhook
-- Returns the entry id (the inbound message's id).
local now = tonumber(A.now)
-- ids follow the caller's clock (never backwards), so trimming by age uses the same clock
local last = redis.call('XREVRANGE', K.inbox, '+', '-', 'COUNT', 1)
local at = now
if #last > 0 then at = math.max(now, tonumber(string.match(last[1][1], '^(%d+)'))) end
local id = redis.call('XADD', K.inbox, 'MINID', ms(now - tonumber(A.retention)), ms(at) .. '-*',
                      'sealed', A.sealed, 'transport', A.transport, 'keyword', A.keyword, 'at', ms(now))
redis.call('PEXPIRE', K.inbox, A.retention)
if A.hook == '1' then
  redis.call('XADD', K.outbox, 'MAXLEN', '~', 100000, '*', 'type', 'message.inbound', 'code', id,
             'client', A.client, 'status', 'received', 'reason', A.keyword, 'at', ms(now))
end
return id
