-- begin_attempt.lua: may this message go out through this transport now?
-- Reads the code's status (a dead code is never sent) and the transport's gate, shared
-- by every worker: a pause a carrier asked for, the circuit breaker (open, or half-open
-- with one probe at a time), and the token bucket of the transport's rate. A token is
-- taken only when the answer is 'go'.
-- A message of a batch (kind 'message') is checked instead against its batch (canceled?),
-- its own record (already sent by a worker that died?) and its recipient's opt-out. It
-- takes a token only while more than `reserve` are left, so codes always find one
-- however busy a campaign keeps the transport; one that finds none is given the next
-- free turn (busy_at advances by one token's time per waiting message), so waiting bulk
-- messages come back spread over time, not all at once, and in the order they came.
-- A token due to a turn is promised: a message without a turn (or with a later one)
-- takes none while an earlier turn is outstanding; it is given the next turn instead.
-- KEYS
--   codes            the phone's code records (hash), or the batch's message records
--   gate             the transport's gate (hash of pause, breaker and bucket fields)
--   batch            the message's batch (hash; a placeholder for a code)
--   opt_out          the recipient's opt-out flag (checked for a message)
-- ARGV
--   id               the code's id, or the message's position in its batch
--   kind             code | message
--   now              ms
--   rate             messages per second (0 = no limit)
--   burst            bucket size (at least 1)
--   reserve          tokens a message leaves for codes (0 for a code)
--   turn             the turn a message was given earlier (ms; 0 = none)
--   probe_ms         how long a half-open probe holds the gate before another may try
--   gate_ttl         how long an untouched gate is kept (ms)
-- Returns {status, verdict, wait_ms, dirty}: status is the code's status or 'gone' (for
-- a message: 'pending', 'canceled', 'opted_out', 'gone' or the status it already has);
-- verdict is 'go', 'skip' (not to be sent), 'paused', 'open' or 'busy' (no token yet);
-- wait_ms says when to look again; dirty is 1 when the gate remembers failures, so the
-- caller reports a success to clear them.
local status
if A.kind == 'message' then
  local state = redis.call('HGET', K.batch, 'state')
  if not state then return {'gone', 'skip', 0, 0} end
  if state == 'canceled' then return {'canceled', 'skip', 0, 0} end
  local raw = redis.call('HGET', K.codes, A.id)
  local current = raw and cjson.decode(raw).delivery_status
  if current and current ~= 'queued' then return {current, 'skip', 0, 0} end
  if redis.call('EXISTS', K.opt_out) == 1 then return {'opted_out', 'skip', 0, 0} end
  status = 'pending'
else
  local raw = redis.call('HGET', K.codes, A.id)
  if not raw then return {'gone', 'skip', 0, 0} end
  status = cjson.decode(raw).status
  if status ~= 'pending' then return {status, 'skip', 0, 0} end
end

local now = tonumber(A.now)
local g = redis.call('HMGET', K.gate, 'paused_until', 'opened_until', 'probe_until', 'fails', 'tokens',
                     'refilled_at', 'busy_at')
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
  local need = 1 + tonumber(A.reserve)
  tokens = math.min(burst, tokens + (now - last) * rate / 1000)
  local promised = A.kind == 'message' and tonumber(g[7] or 0) > now and tonumber(A.turn) == 0
  if tokens < need or promised then
    local wait = math.max(1, math.ceil((need - tokens) * 1000 / rate))
    redis.call('HSET', K.gate, 'tokens', tostring(tokens), 'refilled_at', now)
    if A.kind == 'message' and tonumber(A.turn) > 0 then
      wait = math.max(wait, 20)  -- it had a turn and lost the token (to a code): its next one is at once
    elseif A.kind == 'message' then  -- the next free turn after those already given out (in fractions
      local turn = math.max(now + wait, tonumber(g[7] or 0) + 1000 / rate)  -- of a ms: 600/s is 1.67 ms)
      redis.call('HSET', K.gate, 'busy_at', tostring(turn))
      wait = math.ceil(turn - now)
    end
    redis.call('PEXPIRE', K.gate, A.gate_ttl)
    return {status, 'busy', wait, 0}
  end
  redis.call('HSET', K.gate, 'tokens', tostring(tokens - 1), 'refilled_at', now)
  redis.call('PEXPIRE', K.gate, A.gate_ttl)
end
local dirty = 0
if opened > 0 or tonumber(g[4] or 0) > 0 then dirty = 1 end
return {status, 'go', 0, dirty}
