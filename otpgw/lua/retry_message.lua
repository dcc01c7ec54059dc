-- retry_message.lua: move a message that failed for a passing reason to the retry set.
-- KEYS[1] transport stream   KEYS[2] retry set (zset scored by due time, ms)
-- KEYS[3] code record
-- ARGV[1] consumer group     ARGV[2] stream entry id
-- ARGV[3] due time (ms)      ARGV[4] entry for the retry set (JSON of stream fields)
-- ARGV[5] retry set ttl (ms) ARGV[6] now (ms)   ARGV[7] detail
-- Returns 1 if moved, 0 if another worker had already acknowledged the entry.
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
if redis.call('EXISTS', KEYS[3]) == 1 then  -- never recreate a record that expired
  redis.call('HSET', KEYS[3], 'delivery_detail', ARGV[7], 'delivery_updated_at', ARGV[6])
end
return 1
