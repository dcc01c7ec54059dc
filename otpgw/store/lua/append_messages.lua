-- append_messages.lua: add messages, in order, to a batch being written (create_batch).
-- Called once per chunk of about a thousand, pipelined: each call is short, so Redis
-- serves other clients (codes) between them. A chunk for a batch that is not being
-- written (refused, replayed, already committed) changes nothing.
-- KEYS
--   meta             the batch's hash
--   pending          the batch's messages not yet on the bulk lane (list)
-- ARGV
--   entries          the messages, separated by newlines: each the recipient's
--                    16-character tag followed by its sealed number
-- Returns how many messages were added.
if redis.call('HGET', K.meta, 'state') ~= 'writing' then return 0 end
local items = {}
for entry in string.gmatch(A.entries, '[^\n]+') do items[#items + 1] = entry end
for first = 1, #items, 1000 do  -- unpack has a limit on its arguments
  redis.call('RPUSH', K.pending, unpack(items, first, math.min(first + 999, #items)))
end
redis.call('HINCRBY', K.meta, 'written', #items)
redis.call('PEXPIRE', K.pending, redis.call('PTTL', K.meta))
return #items
