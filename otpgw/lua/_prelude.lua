-- _prelude.lua: helpers prepended to every otpgw script when it is registered.
-- Scripts cannot call each other; sharing these keeps one definition of each rule.

-- Integer milliseconds as Redis wants them (Lua 5.4 floats would print "1.0").
local function ms(x) return math.floor(tonumber(x)) end

-- Record a failed verification against one identity (phone or user_ref).
-- Returns the lock duration in ms if this failure crossed the threshold, else 0.
-- Lock duration = min(base * 2^(level-1), max); level remembers repeat lockouts.
local function count_failure(fails, lock, level, threshold, window, base, max, level_ttl)
  local n = redis.call('INCR', fails)
  if n == 1 then redis.call('PEXPIRE', fails, window) end
  if n < threshold then return 0 end
  local lv = redis.call('INCR', level)
  redis.call('PEXPIRE', level, level_ttl)
  local dur = ms(math.min(base * 2 ^ (lv - 1), max))
  redis.call('SET', lock, '1', 'PX', dur)
  redis.call('DEL', fails)
  return dur
end

-- Delivery status only moves forward: queued < sent < delivered | undelivered | failed.
-- Among final states the later event wins: a carrier's report outranks the worker's guess.
local DELIVERY_RANK = {queued = 0, sent = 1, delivered = 2, undelivered = 2, failed = 2}

-- Update a code record's delivery fields if the record exists and the move is forward.
-- Returns 1 if updated, 0 if ignored (unknown record, or a late or repeated report).
local function update_delivery(record, status, transport, now, carrier_ids, detail)
  if redis.call('EXISTS', record) == 0 then return 0 end
  local current = redis.call('HGET', record, 'delivery_status') or 'queued'
  local rank_now, rank_new = DELIVERY_RANK[current] or 0, DELIVERY_RANK[status] or 0
  local known_ids = redis.call('HGET', record, 'carrier_ids')
  if carrier_ids ~= '' and not known_ids then redis.call('HSET', record, 'carrier_ids', carrier_ids) end
  if rank_new < rank_now or (rank_new == rank_now and status == current and status ~= 'queued') then
    return 0
  end
  redis.call('HSET', record, 'delivery_status', status, 'delivery_updated_at', now)
  if transport ~= '' then redis.call('HSET', record, 'transport', transport) end
  if carrier_ids ~= '' then redis.call('HSET', record, 'carrier_ids', carrier_ids) end
  -- the detail describes the current status, so an empty one clears an older one
  if detail ~= '' then redis.call('HSET', record, 'delivery_detail', detail)
  else redis.call('HDEL', record, 'delivery_detail') end
  return 1
end
