-- gate_outcome.lua: tell a transport's gate how an attempt went, for every worker.
-- A success closes the breaker and forgets failures. A failure counts; the count reaching
-- the threshold, or any failure of a half-open probe, opens the breaker for
-- cooldown * 2^(level-1), capped at cooldown_max. A throttling reply pauses the transport.
-- KEYS
--   gate             the transport's gate (hash)
-- ARGV
--   outcome          ok | fail | pause
--   now              ms
--   threshold        failures in a row that open the breaker
--   cooldown         first open period (ms)
--   cooldown_max     longest open period (ms)
--   pause            how long to pause on 'pause' (ms)
--   gate_ttl         how long an untouched gate is kept (ms)
-- Returns the breaker state after the call: closed, open or paused.
local now = tonumber(A.now)
if A.outcome == 'ok' then
  redis.call('HDEL', K.gate, 'fails', 'opened_until', 'probe_until', 'level')
  return 'closed'
end
if A.outcome == 'pause' then
  local until_ms = now + tonumber(A.pause)
  if tonumber(redis.call('HGET', K.gate, 'paused_until') or 0) < until_ms then
    redis.call('HSET', K.gate, 'paused_until', until_ms)
  end
  redis.call('PEXPIRE', K.gate, A.gate_ttl)
  return 'paused'
end
local fails = redis.call('HINCRBY', K.gate, 'fails', 1)
local half_open = tonumber(redis.call('HGET', K.gate, 'opened_until') or 0) > 0
redis.call('PEXPIRE', K.gate, A.gate_ttl)
if fails < tonumber(A.threshold) and not half_open then return 'closed' end
local level = redis.call('HINCRBY', K.gate, 'level', 1)
local period = math.min(tonumber(A.cooldown) * 2 ^ (level - 1), tonumber(A.cooldown_max))
redis.call('HSET', K.gate, 'opened_until', ms(now + period), 'fails', 0)
redis.call('HDEL', K.gate, 'probe_until')
return 'open'
