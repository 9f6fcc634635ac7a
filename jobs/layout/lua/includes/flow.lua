-- Flow control (jobs/flow/limits.py): the gates a job passes before it starts. Not a script of
-- its own: claim.lua, finish.lua and abort.lua include it (`--@include flow`) and make its
-- functions for the call with what they work on:
--   local flow = flow_gates(P, now, now_us, reserve, due)
-- P the queue's key prefix, now and now_us the server's time (ms, µs), reserve how long (ms) a
-- released job's slot stays reserved for it (one lease), due the due zset's key. Then
-- flow.spec(id), flow.admit(id, score, priority, spec), flow.settle(id, final), flow.timers().
-- (renew.lua extends a running job's slot itself: it reads `flow` and `running:{c}` only.)
--
-- Keys, all in the queue's slot:
--   flow          hash id -> the job's gates, JSON (records.encode_gates): c = concurrency
--                 gate and n its limit; r = rate gate, t its interval (µs) and b its burst;
--                 u = its unique lock. Only jobs with gates have an entry; it goes when they
--                 are final.
--   running:{c}   zset id -> lease end: the slots in use (a dead worker's entry ages out with
--                 its lease; a released job's reservation with `reserve`)
--   held:{gate}   zset score = priority, member = "{due score, fixed width}|{id}": held jobs,
--                 best priority first, then in due order (equal scores sort by member)
--   tat:{r}       GCRA's theoretical arrival time (µs)
--   timers        zset gate -> ms when a gate must be looked at again: a rate limit's next
--                 admission, or the earliest lease end of a full concurrency gate (its worker
--                 may have died: its slot frees with its lease)
--   gates         set of gates that have running or held jobs (for /metrics)
-- A held job keeps `wait` in its state hash (JSON: on, gate, member, until) for the JobView;
-- a job a concurrency gate released keeps `rsv` there until its claim (see flow_expire).
-- A job counted by a rate limit keeps `admitted` there: the server µs of its admission (a
-- job released by a gate's timer is admitted then, and may be claimed later; the proofs
-- check the limiter's own times, tests/e2e/test_flow_limits.py).

local function flow_gates(P, now, now_us, reserve, due)
  local function flow_spec(id)
    local raw = redis.call('HGET', P .. KEY.flow, id)
    if raw then return cjson.decode(raw) end
    return nil
  end

  local function flow_arm(gate, at_ms)
    redis.call('ZADD', P .. KEY.timers, 'LT', string.format('%.0f', at_ms), gate)
  end

  -- GCRA: admit one at now_us if the gate allows it (and count it); else say when it will.
  local function flow_gcra(spec)
    local key = P .. KEY.rate_tat .. spec.r
    local tat = tonumber(redis.call('GET', key) or '0')
    local tau = (spec.b - 1) * spec.t
    if now_us < tat - tau then return false, tat - tau end
    local new = math.max(tat, now_us) + spec.t
    redis.call('SET', key, string.format('%.0f', new),
      'PX', math.ceil((new - now_us) / 1000) + 1000)
    return true, new - tau
  end

  local function flow_hold(id, gate, kind, score, priority, until_us)
    -- 26 characters hold any due score exactly (13 digits of ms, 12 decimals of n/4096).
    local member = string.format('%026.12f', tonumber(score)) .. '|' .. id
    redis.call('ZADD', P .. KEY.held .. gate, priority, member)
    local wait = {on = kind, gate = gate, member = member}
    if until_us then wait['until'] = string.format('%.0f', until_us / 1000) end
    redis.call('HSET', P .. KEY.state .. id, 'wait', cjson.encode(wait))
    redis.call('SADD', P .. KEY.gates, gate)
  end

  -- Slots whose lease or reservation ran out go; but a job released and not claimed yet
  -- (`rsv`: a paused queue, Redis restarting, every worker busy) keeps its reservation, however
  -- late its claim comes: else the gate's timer would free its slot for the job held behind
  -- it, which would start first (found by the chaos harness: tests/jobs/flow/test_held_order.py).
  local function flow_expire(running)
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', running, '-inf', now)) do
      if redis.call('HEXISTS', P .. KEY.state .. id, 'rsv') == 1 then
        redis.call('ZADD', running, now + reserve, id)
      else
        redis.call('ZREM', running, id)
      end
    end
  end

  -- May this job start now? True when it has no gates or passes them (its slot is taken and its
  -- rate admission counted); otherwise it is held at the gate (the caller has already taken it
  -- out of the due or ready set it was in). `score` is its due score, its rank when held;
  -- `spec` its gates, when the caller has read them already.
  local function flow_admit(id, score, priority, spec)
    spec = spec or flow_spec(id)
    if not spec then return true end
    local state = P .. KEY.state .. id
    if spec.r and redis.call('HEXISTS', state, 'pass') == 0 then
      local held = P .. KEY.held .. spec.r
      local ok, at = false, nil
      if redis.call('EXISTS', held) == 0 then  -- those held before it go first
        ok, at = flow_gcra(spec)
      else
        at = redis.call('ZSCORE', P .. KEY.timers, spec.r)
        if at then at = tonumber(at) * 1000 end
      end
      if not ok then
        flow_hold(id, spec.r, 'rate_limit', score, priority, at)
        flow_arm(spec.r, at and at / 1000 or now)
        return false
      end
      -- Counted once: if the concurrency limit holds it now, it keeps this admission.
      redis.call('HSET', state, 'pass', '1', 'admitted', string.format('%.0f', now_us))
    end
    if spec.c then
      local running = P .. KEY.running .. spec.c
      if not redis.call('ZSCORE', running, id) then  -- else a slot reserved for it (or its own)
        local used = redis.call('ZCARD', running)
        if used >= spec.n then
          flow_expire(running)
          used = redis.call('ZCARD', running)
        end
        if used >= spec.n or redis.call('EXISTS', P .. KEY.held .. spec.c) == 1 then
          flow_hold(id, spec.c, 'concurrency', score, priority, nil)
          local first = redis.call('ZRANGE', running, 0, 0, 'WITHSCORES')
          flow_arm(spec.c, first[2] and tonumber(first[2]) or now)
          return false
        end
        if used == 0 then redis.call('SADD', P .. KEY.gates, spec.c) end
      end
      redis.call('ZADD', running, now + reserve, id)
      redis.call('HDEL', state, 'rsv')  -- claimed: its slot is its lease's from now on
    end
    if spec.r then redis.call('HDEL', state, 'pass') end
    return true
  end

  -- Back where ready jobs of its priority wait, with its old rank (a job with a fair key: in
  -- the due set, from where the next claim moves it to its lane, fair.lua).
  local function flow_unhold(member, priority)
    local score, id = string.match(member, '^([^|]+)|(.*)$')
    local p = tonumber(priority)
    if p == 0 or redis.call('HEXISTS', P .. KEY.fair, id) == 1 then
      redis.call('ZADD', due, score, id)
    else
      redis.call('ZADD', P .. KEY.ready .. p, score, id)
      redis.call('ZADD', P .. KEY.levels, p, p)
    end
    redis.call('HDEL', P .. KEY.state .. id, 'wait')
    return id
  end

  -- Let held jobs of a gate go, as far as the gate allows now, each with the gate's permission
  -- (a reserved slot, or a counted rate admission) so it starts at its next claim. Returns how
  -- many went; wakes an idle worker when any did.
  local function flow_release(gate)
    local held = P .. KEY.held .. gate
    local spec
    while true do  -- the gate's limits come with its jobs; drop heads whose job is gone
      local head = redis.call('ZRANGE', held, 0, 0)[1]
      if not head then
        if gate:sub(1, 1) == 'r' or redis.call('EXISTS', P .. KEY.running .. gate) == 0 then
          redis.call('SREM', P .. KEY.gates, gate)
        end
        return 0
      end
      spec = flow_spec(string.match(head, '|(.*)$'))
      if spec then break end
      redis.call('ZREM', held, head)
    end
    local released = 0
    if gate:sub(1, 1) == 'c' then
      local running = P .. KEY.running .. gate
      flow_expire(running)
      local free = spec.n - redis.call('ZCARD', running)
      if free > 0 then
        local popped = redis.call('ZPOPMIN', held, free)
        for i = 1, #popped, 2 do
          local id = flow_unhold(popped[i], popped[i + 1])
          redis.call('ZADD', running, now + reserve, id)
          redis.call('HSET', P .. KEY.state .. id, 'rsv', '1')
          released = released + 1
        end
      end
      if redis.call('EXISTS', held) == 1 then
        local first = redis.call('ZRANGE', running, 0, 0, 'WITHSCORES')
        flow_arm(gate, first[2] and tonumber(first[2]) or now)
      end
    else
      while true do
        local head = redis.call('ZRANGE', held, 0, 0, 'WITHSCORES')
        if not head[1] then break end
        local ok, at = flow_gcra(spec)
        if not ok then
          flow_arm(gate, at / 1000)
          break
        end
        redis.call('ZREM', held, head[1])
        local id = flow_unhold(head[1], head[2])
        redis.call('HSET', P .. KEY.state .. id,
          'pass', '1', 'admitted', string.format('%.0f', now_us))
        released = released + 1
      end
    end
    if released > 0 then
      if redis.call('LPUSH', P .. KEY.wake, '1') > 16 then
        redis.call('LTRIM', P .. KEY.wake, 0, 15)
      end
    end
    return released
  end

  -- A try of a gated job ended: its slot frees (and the next held job gets it). `final`: the
  -- job is done for good: its unique lock and its gates entry go too.
  local function flow_settle(id, final)
    local spec = flow_spec(id)
    if not spec then return end
    if spec.c then
      redis.call('ZREM', P .. KEY.running .. spec.c, id)
      flow_release(spec.c)
    end
    if final then
      if spec.u then
        local lock = P .. KEY.unique .. spec.u
        if redis.call('GET', lock) == id then redis.call('DEL', lock) end
      end
      redis.call('HDEL', P .. KEY.flow, id)
    end
  end

  -- Fire the gates' timers that are due (claim.lua, before it looks at the due set).
  local function flow_timers()
    for _, gate in ipairs(redis.call('ZRANGEBYSCORE', P .. KEY.timers, '-inf', now)) do
      redis.call('ZREM', P .. KEY.timers, gate)
      flow_release(gate)
    end
  end

  return {spec = flow_spec, admit = flow_admit, settle = flow_settle, timers = flow_timers}
end
