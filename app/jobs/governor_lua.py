"""The governor's Redis scripts, which read their arguments by name.

Each script has one ordered tuple of argument names; ``script_args`` builds the argument list
from keywords in that order, and the script's prologue binds ``arg.<name>`` to the same position,
so the Python and Lua sides can never disagree about which number is which.
"""

PERMIT_ARGS = (
    "now",
    "known",
    "initial",
    "error_threshold",
    "downtime_until",
    "member",
    "reserve",
    "horizon",
    "gate_factor",
    "gate_slack",
    "pass_gate",
)

OBSERVE_ARGS = (
    "now",
    "outcome",
    "number",
    "adaptive",
    "initial",
    "min_rate",
    "max_rate",
    "step",
    "probe",
    "alpha",
    "backoff_base",
    "backoff_cap",
    "fails_threshold",
    "member",
    "call_field",
    "failure",
)


def prologue(names):
    """Lua that binds each ARGV value to arg.<name>, in the order of names (one table constructor)."""
    fields = ", ".join(f"{name} = ARGV[{position}]" for position, name in enumerate(names, start=1))
    return f"local arg = {{{fields}}}\n"


def script_args(names, **values):
    """The argument list of a script, in the order of its names; an error names any missing or extra."""
    missing, extra = set(names) - set(values), set(values) - set(names)
    if missing or extra:
        raise TypeError(f"script arguments: missing {sorted(missing)}, unexpected {sorted(extra)}")
    return [values[name] for name in names]


PERMIT_LUA = (
    prologue(PERMIT_ARGS)
    + """local state, permits, paused, sends = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(arg.now)
local known = tonumber(arg.known)
local initial = tonumber(arg.initial)
local threshold = tonumber(arg.error_threshold)
local downtime_until = tonumber(arg.downtime_until)
local member = arg.member
local reserve = arg.reserve == '1'
local horizon = tonumber(arg.horizon)
if redis.call('EXISTS', paused) == 1 then return {'paused', '5'} end
local s = redis.call('HMGET', state, 'backoff_until', 'error_remain', 'error_reset_at', 'rate', 'tat')
local backoff_until = tonumber(s[1]) or 0
if backoff_until > now then return {'backoff', tostring(backoff_until - now)} end
if downtime_until > now then return {'downtime', tostring(downtime_until - now)} end
local remain, reset_at = tonumber(s[2]), tonumber(s[3]) or 0
if remain ~= nil and remain <= threshold and reset_at > now then
  return {'budget', tostring(reset_at - now)}
end
local rate = known
if rate <= 0 then rate = tonumber(s[4]) or initial end
-- The gate, just before a call goes out: never more than the gate rate's calls of one second in
-- any window of a second and the slack. A call may reach the upstream up to the slack later
-- than it passed here (a busy machine, a thread waiting for its turn), so the upstream's own
-- count of any one second stays within the limit. Slots are handed out a little slower than the
-- gate allows, so callers catching up after a delay rarely have to wait here.
local function gate(refused)
  local gate_rate = rate * tonumber(arg.gate_factor)
  local window = 1.0
  if gate_rate < 1 then window = 1.0 / gate_rate end
  local allowed = math.max(1, math.floor(gate_rate * window + 1e-9))
  window = window + tonumber(arg.gate_slack)
  redis.call('ZREMRANGEBYSCORE', sends, '-inf', now - window)
  if redis.call('ZCARD', sends) >= allowed then
    redis.call('HINCRBY', state, 'gate_waits', 1)
    local oldest = redis.call('ZRANGE', sends, 0, 0, 'WITHSCORES')
    local wait = tonumber(oldest[2]) + window - now
    if wait < 0.001 then wait = 0.001 end
    return {refused, tostring(wait)}
  end
  redis.call('ZADD', sends, now, member)
  redis.call('PEXPIRE', sends, math.ceil(window * 1000) + 1000)
  return {'ok', '0'}
end
if not reserve then return gate('rate') end
local tat = tonumber(s[5]) or now
local slot = math.max(tat, now)
if slot - now > horizon then return {'rate', tostring(slot - now - horizon)} end
redis.call('HSET', state, 'tat', tostring(slot + 1.0 / rate))
redis.call('ZADD', permits, slot, member)
redis.call('ZREMRANGEBYSCORE', permits, '-inf', now - 2)
redis.call('PEXPIRE', permits, math.ceil(horizon * 1000) + 3000)
-- A slot this close is now: with pass_gate, the call goes out at once, through the gate too
-- ('gate': the slot is reserved, the gate is full for that long).
local pass_gate = tonumber(arg.pass_gate) or 0
if pass_gate > 0 and slot - now <= pass_gate then return gate('gate') end
return {'ok', tostring(slot - now)}
"""
)

OBSERVE_LUA = (
    prologue(OBSERVE_ARGS)
    + """local state, oklog = KEYS[1], KEYS[2]
-- calls by upstream and status
if arg.call_field ~= '' then redis.call('HINCRBY', KEYS[3], arg.call_field, 1) end
-- the last failure, named for the dashboard (a status, "timeout" or "malformed")
if arg.failure ~= '' then
  redis.call('HSET', KEYS[1], 'last_failure', arg.failure, 'last_failure_at', arg.now)
end
local now = tonumber(arg.now)
local outcome = arg.outcome
local number = tonumber(arg.number) or 0
local adaptive = arg.adaptive == '1'
local initial, min_rate, max_rate = tonumber(arg.initial), tonumber(arg.min_rate), tonumber(arg.max_rate)
local step, probe, alpha = tonumber(arg.step), tonumber(arg.probe), tonumber(arg.alpha)
local base, cap = tonumber(arg.backoff_base), tonumber(arg.backoff_cap)
local fails_threshold = tonumber(arg.fails_threshold)
local s = redis.call('HMGET', state, 'rate', 'ceiling', 'level', 'fails', 'last_event_at', 'backoff_until')
local rate = tonumber(s[1]) or initial
local ceiling = tonumber(s[2]) or -1
local level = tonumber(s[3]) or 0
local fails = tonumber(s[4]) or 0
local last_event = tonumber(s[5]) or 0
local backoff_until = tonumber(s[6]) or 0
if outcome == 'ok' then
  fails = 0
  redis.call('ZADD', oklog, now, arg.member)
  redis.call('ZREMRANGEBYSCORE', oklog, '-inf', now - 1)
  redis.call('PEXPIRE', oklog, 2000)
  if adaptive then
    -- Grow only while the rate is actually used: a rate nobody reaches proves nothing.
    local served = redis.call('ZCARD', oklog)
    if served >= 0.5 * rate then
      if ceiling < 0 then
        rate = rate + 1
      elseif rate < 0.95 * ceiling then
        rate = rate + step / math.max(rate, 1)
      else
        rate = rate + probe / math.max(rate, 1)
      end
      if rate > max_rate then rate = max_rate end
    end
  end
  if level > 0 and now - last_event > 20 then level = level - 1; last_event = now end
elseif outcome == '429' then
  level = level + 1
  last_event = now
  if adaptive then
    redis.call('ZREMRANGEBYSCORE', oklog, '-inf', now - 1)
    local served = redis.call('ZCARD', oklog)
    ceiling = math.max(min_rate, served)
    local target = math.min(rate, 0.97 * ceiling)
    rate = math.max(min_rate, target * math.pow(level, -alpha))
  end
  if now + number > backoff_until then backoff_until = now + number end
elseif outcome == '420' then
  level = level + 1
  last_event = now
  if now + number > backoff_until then backoff_until = now + number end
elseif outcome == '5xx' then
  fails = fails + 1
  if fails >= fails_threshold then
    level = level + 1
    last_event = now
    fails = 0
    local pause = math.min(cap, base * level * level)
    if now + pause > backoff_until then backoff_until = now + pause end
    if adaptive then rate = math.max(min_rate, rate * 0.8) end
  end
end
redis.call('HSET', state, 'rate', tostring(rate), 'ceiling', tostring(ceiling), 'level', level,
  'fails', fails, 'last_event_at', tostring(last_event), 'backoff_until', tostring(backoff_until),
  'updated_at', tostring(now))
return tostring(rate)
"""
)
