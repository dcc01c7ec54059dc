-- _prelude.lua: helpers prepended to every otpgw script when it is registered (after
-- the K and A tables that name KEYS and ARGV). Scripts cannot call each other; sharing
-- these keeps one definition of each rule.

local unpack = table.unpack or unpack  -- Lua 5.1 (Redis) and 5.4 (the embedded store)

-- Integer milliseconds as Redis wants them (Lua floats would print "1.0").
local function ms(x) return math.floor(tonumber(x)) end

-- A code's record is a JSON object in the phone's codes hash, under the code's id.
local function load_record(codes, id)
  local raw = redis.call('HGET', codes, id)
  if not raw then return nil end
  return cjson.decode(raw)
end

local function save_record(codes, id, rec)
  redis.call('HSET', codes, id, cjson.encode(rec))
end

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

local function count_items(list)
  if list == nil or list == '' then return 0 end
  return select(2, string.gsub(list, ',', ',')) + 1
end

-- Has every message the carrier gave an id for been reported delivered? Carriers that
-- report per part (Vonage, a modem) gave one id per part; one that reports the whole
-- message gave one id (Twilio) or none (Kannel, reported by our reference).
local function all_parts_delivered(rec)
  local done = count_items(rec.delivered_parts)
  if not rec.receipt then return false end  -- the submit is not recorded yet: wait for it
  local ids = count_items(rec.carrier_ids)
  return done > 0 and done >= math.max(ids, 1)
end

-- Apply a delivery event to a record (a table, saved by the caller).
-- ev: status, transport, now, carrier_ids (comma-separated), detail, error_code, parts,
-- part (the carrier id a report is about, '' for the whole message).
-- A report of one part's delivery counts that part; the message becomes 'delivered' once
-- every id is in, even when the reports came before the submit was recorded.
-- Returns true if the record changed.
local function apply_delivery(rec, ev)
  if ev.carrier_ids ~= '' then rec.carrier_ids = ev.carrier_ids end
  if tonumber(ev.parts or 0) > 0 then rec.parts = tonumber(ev.parts) end
  if ev.status == 'sent' and ev.part == '' and ev.transport ~= '' then rec.receipt = 1 end
  local status, counted = ev.status, false
  if status == 'delivered' and ev.part ~= '' then
    local done = rec.delivered_parts or ''
    if not string.find(',' .. done .. ',', ',' .. ev.part .. ',', 1, true) then
      rec.delivered_parts = (done == '' and ev.part) or (done .. ',' .. ev.part)
      counted = true
    end
    if not all_parts_delivered(rec) then status = 'sent' end
  elseif status == 'sent' and all_parts_delivered(rec) then
    status = 'delivered'  -- the receipt came after the reports of every part
  end
  local current = rec.delivery_status or 'queued'
  local rank_now, rank_new = DELIVERY_RANK[current] or 0, DELIVERY_RANK[status] or 0
  if rank_new < rank_now or (rank_new == rank_now and status == current and status ~= 'queued') then
    return counted  -- a part counted is saved, though the status stays
  end
  rec.delivery_status, rec.delivery_updated_at = status, ms(ev.now)
  if ev.transport ~= '' then rec.transport = ev.transport end
  -- the detail describes the current status, so an empty one clears an older one
  rec.delivery_detail = ev.detail
  rec.error_code = ev.error_code
  return true
end

-- Load, apply, save; 1 if the record changed, 0 if unknown or the event is stale.
local function update_delivery(codes, id, ev)
  local rec = load_record(codes, id)
  if not rec then return 0 end
  if not apply_delivery(rec, ev) then return 0 end
  save_record(codes, id, rec)
  return 1
end

-- Webhook outbox (otpgw.events.webhooks reads it): an event about a code, appended in the
-- same script as the change it reports, so it costs no round trip and is never lost or
-- invented. Only codes whose client had a webhook when the code was sent (rec.hook)
-- emit. Fields: type, code (the id), client, status, reason, at (ms): never a phone or
-- a code. The stream is capped, so a deployment without a dispatcher cannot fill Redis.
-- key: the outbox stream; kind: code.approved | code.max_attempts | code.locked | delivery.<status>
local function emit_event(key, rec, id, kind, status, reason, now)
  if not rec or rec.hook ~= 1 then return end
  redis.call('XADD', key, 'MAXLEN', '~', 100000, '*', 'type', kind, 'code', id, 'client', rec.client,
             'status', status, 'reason', reason or '', 'at', ms(now))
end

-- After update_delivery changed a record (it returned 1): emit its delivery status now.
local function emit_delivery(key, codes, id, now)
  local rec = load_record(codes, id)
  if rec then
    local status = rec.delivery_status or 'queued'
    emit_event(key, rec, id, 'delivery.' .. status, status, rec.error_code or '', now)
  end
end
