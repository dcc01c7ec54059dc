-- send_code.lua: check every send limit, then store the code and queue its message.
-- Nothing is written unless every check passes, so a refusal costs the caller nothing.
-- With an Idempotency-Key, a repeat of a successful send (same client, same key, same
-- request) returns the first answer and sends nothing; the same key with another request
-- is refused. Only a successful send is remembered: after a refusal, a retry is new.
-- KEYS
--   phone_lock       the phone's lockout flag (its PTTL is the time left)
--   user_lock        the user_ref's lockout flag (a placeholder without a user_ref)
--   opt_out          the phone's opt-out flag
--   cooldown         the phone's resend cooldown
--   sends            the phone's send log (zset of ids by time)
--   ip_sends         the client IP's send counter (a placeholder without an IP)
--   country_day      the country's send counter for this UTC day
--   prefix_day       the number prefix's send counter for this UTC day
--   codes            the phone's code records (hash)
--   purge            when each record of the phone may be dropped (zset)
--   digest           the calling client's live digest for this phone
--   lane             the delivery lane's stream
--   idempotency      the first answer under the caller's Idempotency-Key (a placeholder without one)
--   client_day       the calling client's send counter for this UTC day
-- ARGV
--   now              ms
--   id               the new code's id
--   digest           HMAC of the code
--   ttl              code lifetime (ms)
--   retention        how long a record outlives its code (ms)
--   cooldown         resend cooldown (ms; 0 = none)
--   window           send window (ms)
--   window_max       sends allowed per phone per window
--   ip_max           sends allowed per IP per IP window (0 = no IP or no limit)
--   ip_window        IP window (ms)
--   country_cap      the country's daily cap (0 = none)
--   prefix_cap       the number prefix's daily cap (0 = none)
--   day_left         ms until the UTC day ends
--   sealed           the sealed message (number and text)
--   client           the calling client
--   country          the phone's ISO country
--   locale           the message's locale
--   transport        the transport the route names first
--   user             the user_ref tag ('' = none)
--   lane_name        the lane the message waits on
--   lane_ttl         how long an idle lane is kept (ms)
--   request          keyed digest of the request under an Idempotency-Key ('' = no key)
--   idem_ttl         how long an Idempotency-Key is remembered (ms)
--   client_cap       the client's daily cap (0 = none)
--   hook             1 if the client has a webhook (the code's events go to the outbox)
-- Returns {'ok', resend_after_ms, ''} or {refusal, retry_after_ms, limit_name} where
-- refusal is 'opted_out', 'locked' or 'rate_limited'; or {'replayed', 0, '', id,
-- expires_at, resend_after_at} (the first answer), or {'idempotency_mismatch', 0, ''}.
local now = tonumber(A.now)
local expires = now + tonumber(A.ttl)
local day_left = ms(A.day_left)

if A.request ~= '' then
  local seen = redis.call('GET', K.idempotency)
  if seen then
    local first = cjson.decode(seen)
    if first.request ~= A.request then return {'idempotency_mismatch', 0, ''} end
    return {'replayed', 0, '', first.id, first.expires, first.resend_after}
  end
end
if redis.call('EXISTS', K.opt_out) == 1 then return {'opted_out', 0, 'opt_out'} end
local locked = redis.call('PTTL', K.phone_lock)
if locked > 0 then return {'locked', locked, 'phone'} end
if A.user ~= '' then
  locked = redis.call('PTTL', K.user_lock)
  if locked > 0 then return {'locked', locked, 'user_ref'} end
end
local ip_max = tonumber(A.ip_max)
if ip_max > 0 and tonumber(redis.call('GET', K.ip_sends) or '0') >= ip_max then
  return {'rate_limited', redis.call('PTTL', K.ip_sends), 'client_ip_send'}
end
local cooling = redis.call('PTTL', K.cooldown)
if cooling > 0 then return {'rate_limited', cooling, 'resend_cooldown'} end
local window = tonumber(A.window)
redis.call('ZREMRANGEBYSCORE', K.sends, '-inf', now - window)
if redis.call('ZCARD', K.sends) >= tonumber(A.window_max) then
  local oldest = redis.call('ZRANGE', K.sends, 0, 0, 'WITHSCORES')
  return {'rate_limited', ms(tonumber(oldest[2]) + window - now), 'phone_send_window'}
end
local cap, prefix_cap = tonumber(A.country_cap), tonumber(A.prefix_cap)
if cap > 0 and tonumber(redis.call('GET', K.country_day) or '0') >= cap then
  return {'rate_limited', day_left, 'country_daily'}
end
if prefix_cap > 0 and tonumber(redis.call('GET', K.prefix_day) or '0') >= prefix_cap then
  return {'rate_limited', day_left, 'prefix_daily'}
end
local client_cap = tonumber(A.client_cap)
if client_cap > 0 and tonumber(redis.call('GET', K.client_day) or '0') >= client_cap then
  return {'rate_limited', day_left, 'client_daily'}
end

-- Every check passed: count this send everywhere.
if ip_max > 0 and redis.call('INCR', K.ip_sends) == 1 then redis.call('PEXPIRE', K.ip_sends, A.ip_window) end
local function count_today(key)  -- a day counter outlives its UTC day by an hour
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, day_left + 3600000) end
end
if cap > 0 then count_today(K.country_day) end
if prefix_cap > 0 then count_today(K.prefix_day) end
if client_cap > 0 then count_today(K.client_day) end
local cooldown = ms(A.cooldown)
if cooldown > 0 then redis.call('SET', K.cooldown, '1', 'PX', cooldown) end
redis.call('ZADD', K.sends, now, A.id)
redis.call('PEXPIRE', K.sends, window)

-- A resend supersedes this client's previous code for the phone: one live code per client.
local latest = 'latest:' .. A.client
local previous = redis.call('HGET', K.codes, latest)
if previous then
  local old = load_record(K.codes, previous)
  if old and old.status == 'pending' then
    old.status, old.ended_at, old.superseded_by = 'canceled', now, A.id
    save_record(K.codes, previous, old)
  end
end
-- Records past their retention leave the hash; the hash lives as long as its newest record.
local purge_at = expires + tonumber(A.retention)
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', K.purge, '-inf', now)) do
  redis.call('HDEL', K.codes, gone)
end
redis.call('ZREMRANGEBYSCORE', K.purge, '-inf', now)
redis.call('ZADD', K.purge, purge_at, A.id)

save_record(K.codes, A.id, {
  status = 'pending', client = A.client, attempts = 0, created_at = now, expires_at = expires,
  country = A.country, locale = A.locale, transport = A.transport, utag = A.user, lane = A.lane_name,
  delivery_status = 'queued', delivery_updated_at = now, hook = (A.hook == '1' and 1) or nil})
-- the pointer lives as long as the record, so a late verify by phone learns the exact reason
redis.call('HSET', K.codes, latest, A.id)
for _, key in ipairs({K.codes, K.purge}) do
  if redis.call('PTTL', key) < tonumber(A.ttl) + tonumber(A.retention) then
    redis.call('PEXPIRE', key, tonumber(A.ttl) + tonumber(A.retention))
  end
end
redis.call('SET', K.digest, A.id .. ':' .. A.digest, 'PX', A.ttl)
redis.call('XADD', K.lane, '*', 'id', A.id, 'sealed', A.sealed, 'deadline', expires, 'attempt', '0')
redis.call('PEXPIRE', K.lane, A.lane_ttl)
if A.request ~= '' then
  redis.call('SET', K.idempotency, cjson.encode({request = A.request, id = A.id, expires = expires,
                                                 resend_after = now + cooldown}), 'PX', A.idem_ttl)
end
return {'ok', cooldown, ''}
