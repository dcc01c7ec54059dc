-- begin_attempt.lua: may this message go out through this transport now?
-- Reads the code's status (a dead code is never sent) and the transport's gate, shared
-- by every worker: a pause a carrier asked for, the circuit breaker (open, or half-open
-- with one probe at a time), and the token bucket of the transport's rate. A token is
-- taken only when the answer is 'go'.
-- KEYS
--   codes            the phone's code records (hash)
--   gate             the transport's gate (hash of pause, breaker and bucket fields)
-- ARGV
--   id               the code's id
--   now              ms
--   rate             messages per second (0 = no limit)
--   burst            bucket size (at least 1)
--   probe_ms         how long a half-open probe holds the gate before another may try
--   gate_ttl         how long an untouched gate is kept (ms)
-- Returns {code_status, verdict, wait_ms, dirty}: code_status is the record's status or
-- 'gone'; verdict is 'go', 'skip' (the code is not pending), 'paused', 'open' or 'busy'
-- (no token yet); wait_ms says when to look again; dirty is 1 when the gate remembers
-- failures, so the caller reports a success to clear them.
local raw = redis.call('HGET', K.codes, A.id)
if not raw then return {'gone', 'skip', 0, 0} end
local status = cjson.decode(raw).status
if status ~= 'pending' then return {status, 'skip', 0, 0} end

local now = tonumber(A.now)
local g = redis.call('HMGET', K.gate, 'paused_until', 'opened_until', 'probe_until', 'fails', 'tokens',
                     'refilled_at')
local paused = tonumber(g[1] or 0)
if paused > now then return {status, 'paused', paused - now, 1} end
local opened = tonumber(g[2] or 0)
if opened > now then return {status, 'open', opened - now, 1} end
if opened > 0 then  -- half-open: one probe at a time
  local probe = tonumber(g[3] or 0)
  if probe > now then return {status, 'open', probe - now, 1} end
  redis.call('HSET', K.gate, 'probe_until', now + tonumber(A.probe_ms))
end
local rate = tonumber(A.rate)
if rate > 0 then
  local burst = math.max(1, tonumber(A.burst))
  local tokens = tonumber(g[5] or burst)
  local last = tonumber(g[6] or now)
  tokens = math.min(burst, tokens + (now - last) * rate / 1000)
  if tokens < 1 then
    redis.call('HSET', K.gate, 'tokens', tostring(tokens), 'refilled_at', now)
    redis.call('PEXPIRE', K.gate, A.gate_ttl)
    return {status, 'busy', math.ceil((1 - tokens) * 1000 / rate), 0}
  end
  redis.call('HSET', K.gate, 'tokens', tostring(tokens - 1), 'refilled_at', now)
  redis.call('PEXPIRE', K.gate, A.gate_ttl)
end
local dirty = 0
if opened > 0 or tonumber(g[4] or 0) > 0 then dirty = 1 end
return {status, 'go', 0, dirty}
