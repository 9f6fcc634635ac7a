-- Enqueue one or many jobs on one queue in one round trip.
-- KEYS[1] due zset  KEYS[2] priority levels zset  KEYS[3] wake list  KEYS[4] listing index
--   KEYS[5] idempotency key (read only when ARGV[2] is not '')
-- ARGV[1] the queue's key prefix (`jobsvc:{name}:`)  ARGV[2] idempotency value or ''
--   ARGV[3] definition ttl ms beyond the due time  ARGV[4] idempotency ttl ms beyond it
--   ARGV[5] listing: keep entries this many ms  ARGV[6] listing: keep at most this many
--   ARGV[7] '1': the ids are fresh (random, made for this call): no earlier job can hold them
--   ARGV[8] ms to keep the definition of a job that waits for parents (until released), and
--   the TTL of every dependency key it writes (DEPENDENCY_WAIT_S)
--   ARGV[9] ms until a sweep first looks at a job that waits for parents (DEPENDENCY_SWEEP_S)
--   ARGV[10] '1': the rows are single enqueues coalesced into one call (jobs/enqueue/group_commit.py):
--   each counts toward the listing trim as a call of its own (see TRIM_EVERY)
--   then per job the values of an EnqueueRow (jobs/layout/script_rows.py): id, definition
--   without `et` (open JSON: the script appends the server's time), delay ms, absolute due
--   ms or '', priority (0 = first),
--   gates (records.encode_gates JSON, or ''), unique lock ('' none), its ttl ms, 'unique' or
--   'debounce', expiry ('' none, '+{ms}' after now, or absolute ms), the parents it waits
--   for (ids, space-separated, or ''), and what a parent that did not complete means to it
--   ('fail' or 'ignore'), and its fair key value ('' none: includes/fair.lua)
-- Returns {'existing', idempotency value} when the idempotency key is taken; otherwise
--         {now ms, 1 if this queue had no jobs' bookkeeping yet (a new queue, or one whose
--         data was lost: the caller registers its name), then per job: due ms, or -1 when a
--         job with that id exists already, or {'unique', id} when its unique lock is held by
--         a job not final yet (nothing created), or {'debounced', id, due ms} when it
--         replaced that waiting job's input and pushed its start back, or -2 when it waits for
--         a job of this call that was not created (nothing created)}.
-- A job with parents waits (deps.lua): in no due or ready set, until release.lua or a parent's
-- settle releases it; the caller links it to its parents (link.lua) right after. A parent
-- created earlier in this same call (a job and its webhook delivery: jobs/webhooks/callback.py) is
-- linked here instead, in the same step: the two appear together or not at all.
-- Unique locks (`unique:{lock}` -> id) go when their job is final (flow.lua's flow.settle).
-- Where a job waits: priority 0 in the due set (ARQ's shape: score = due ms); a higher
-- priority, when due, in that priority's ready set (`ready:{p}`, score = due ms; the level is
-- noted in KEYS[2]), else in the due set until claim.lua moves it there. Every due score gets
-- a sub-millisecond fraction (n/4096 for the n-th job of that millisecond: enqueued in it, or,
-- when deferred, due in it): FIFO within a millisecond too, up to 4096 jobs in one.
-- Listing and failed-registry scores are ms * 1000 + a position (unique within a call).
-- Numbers go to redis.call as numbers: the server prints them exactly (an integer as one, a
-- fraction in its shortest exact form), where string.format costs a libc printf each (the
-- costliest step per row) and Lua's own number-to-string keeps only 14 digits. Only `now`
-- (13 digits) is concatenated, once per call.
local P = ARGV[1]
--@include fair
local fair = fair_shares(P)
local entering = fair.batch()  -- fair jobs: their keys, and the lanes of those due now
if ARGV[2] ~= '' then
  local existing = redis.call('GET', KEYS[5])
  if existing then return {'existing', existing} end
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local stamped = ',"et":' .. now .. '}'  -- closes each definition: the server's enqueue time
-- The sub-millisecond fraction: jobs enqueued within one millisecond (one call, or calls
-- that share it) count 0, 1, 2, ... in 4096ths; a new millisecond starts again at 0.
local W = @ENQUEUE_ROW_WIDTH@  -- values per job (jobs/layout/script_rows.py)
local rows = (#ARGV - 10) / W
-- The same hash counts calls since the listing was last trimmed (`t`): a trim costs two
-- commands, so single enqueues trim every TRIM_EVERY-th call (the listing may run that many
-- entries past its cap or age for a moment); a call of several jobs always trims, unless
-- they are single enqueues coalesced (ARGV[10]): those count one each.
local TRIM_EVERY = 64
local last = redis.call('HMGET', P .. KEY.sequence, 'ms', 'n', 't')
local seq = -1
if tonumber(last[1]) == now then seq = tonumber(last[2]) - 1 end
local coalesced = ARGV[10] == '1'
local singles = coalesced and rows or 1
local untrimmed = tonumber(last[3]) or TRIM_EVERY
local trim = (rows > 1 and not coalesced) or untrimmed + singles >= TRIM_EVERY
redis.call('HSET', P .. KEY.sequence, 'ms', now, 'n', seq + 1 + rows, 't', trim and 0 or untrimmed + singles)
local out = {now, last[1] and 0 or 1}
local created = 0
local last_due = now
local fresh = ARGV[7] == '1'
local wait_ms = tonumber(ARGV[8])  -- DEPENDENCY_WAIT_S: no waiting key outlives it
-- Sorted-set additions are gathered and made in one call each: per-call overhead counts.
local ready_now, listed = {}, {}
local in_call = {}  -- this call's rows by id (see the parents of a row below)
-- The job an equal enqueue would return (its unique lock's holder, if still waiting or
-- running: a lock outlives its job only if the job's data was lost).
local function lock_holder(lock)
  local holder = redis.call('GET', P .. KEY.unique .. lock)
  if holder and redis.call('EXISTS', P .. KEY.job .. holder) == 1
    and redis.call('EXISTS', P .. KEY.result .. holder) == 0 then
    return holder
  end
  return nil
end

-- Debounce: the waiting job takes the new input and waits again from now.
local function debounce(holder, data, due, score)
  entering.flush()  -- the holder may be a row of this call, not in its lane yet
  local state = P .. KEY.state .. holder
  local wait = redis.call('HGET', state, 'wait')
  if wait then  -- held at a gate: it waits for its new due time instead
    wait = cjson.decode(wait)
    redis.call('ZREM', P .. KEY.held .. wait.gate, wait.member)
    redis.call('HDEL', state, 'wait')
  end
  local priority = redis.call('HGET', P .. KEY.priorities, holder)
  if priority then redis.call('ZREM', P .. KEY.ready .. priority, holder) end
  local key = redis.call('HGET', P .. KEY.fair, holder)
  if key then
    redis.call('ZREM', fair.lane(priority or 0, key), holder)
  elseif not priority then  -- a plain job taking turns with fair ones waits in `ready:0`
    redis.call('ZREM', P .. KEY.ready .. 0, holder)
  end
  redis.call('SET', P .. KEY.job .. holder, data .. stamped,
    'PX', due - now + tonumber(ARGV[3]))
  redis.call('ZADD', KEYS[1], score, holder)
end

for i = 11, #ARGV, W do
  local id, data, delay, due_at, priority =
    ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3], tonumber(ARGV[i + 4])
  local gates, lock, lock_ttl, mode, expires =
    ARGV[i + 5], ARGV[i + 6], tonumber(ARGV[i + 7]), ARGV[i + 8], ARGV[i + 9]
  local after, on_failure, key = ARGV[i + 10], ARGV[i + 11], ARGV[i + 12]
  seq = seq + 1
  local holder = lock ~= '' and lock_holder(lock)
  -- Parents that are rows of this call: `in_call[id]` is the definition ttl of a row created
  -- here, false for one that was not (unique, duplicate, ...): then this row is not created.
  local parents, orphan = {}, false
  for parent in string.gmatch(after, '%S+') do
    parents[#parents + 1] = parent
    if in_call[parent] == false then orphan = true end
  end
  if expires ~= '' then  -- `x`: not started by then, it never starts
    local x = tonumber(expires)
    if string.sub(expires, 1, 1) == '+' then x = now + tonumber(string.sub(expires, 2)) end
    data = data .. ',"x":' .. string.format('%.0f', x)
  end
  in_call[id] = false
  if orphan then
    out[#out + 1] = -2
  elseif holder and (mode ~= 'debounce' or redis.call('EXISTS', P .. KEY.lease .. holder) == 0) then
    if mode == 'debounce' then
      local due = now + delay
      if due_at ~= '' then due = math.max(now, tonumber(due_at)) end
      local score = due + math.min(seq, 4095) / 4096
      debounce(holder, data, due, score)
      out[#out + 1] = {'debounced', holder, due}
    else
      out[#out + 1] = {'unique', holder}
    end
  elseif not fresh
    and redis.call('EXISTS', P .. KEY.job .. id, P .. KEY.result .. id, P .. KEY.lease .. id) > 0 then
    out[#out + 1] = -1
  else
    local due = now + delay
    if due_at ~= '' then due = math.max(now, tonumber(due_at)) end
    local nth = seq
    if due > now then  -- deferred: the jobs already due at that same millisecond come first
      nth = redis.call('ZCOUNT', KEYS[1], due, '(' .. (due + 1))
    end
    local score = due + math.min(nth, 4095) / 4096
    local ttl = due - now + tonumber(ARGV[3])
    if after ~= '' then ttl = tonumber(ARGV[8]) end
    for _, parent in ipairs(parents) do  -- kept at least as long as a parent of this call
      if in_call[parent] then ttl = math.max(ttl, in_call[parent]) end
    end
    in_call[id] = ttl
    redis.call('SET', P .. KEY.job .. id, data .. stamped, 'PX', ttl)
    if priority ~= 0 then redis.call('HSET', P .. KEY.priorities, id, priority) end
    if key ~= '' then entering.add(id, priority, score, key, after == '' and due <= now) end
    if after ~= '' then
      for start = 1, #parents, 1000 do
        redis.call('SADD', P .. KEY.deps .. id, unpack(parents, start, math.min(start + 999, #parents)))
      end
      redis.call('HSET', P .. KEY.state .. id, 'deps', redis.call('SCARD', P .. KEY.deps .. id),
        'op', on_failure, 'after', after)
      -- Its waiting keys go when its definition would (DEPENDENCY_WAIT_S), released or not:
      -- deps.lua's release keeps the state of a job that runs.
      redis.call('PEXPIRE', P .. KEY.deps .. id, wait_ms)
      redis.call('PEXPIRE', P .. KEY.state .. id, wait_ms)
      -- First sweep after ARGV[9] ms (DEPENDENCY_SWEEP_S): by then its links are made.
      redis.call('ZADD', P .. KEY.waiting, now + tonumber(ARGV[9]), id)
      redis.call('PEXPIRE', P .. KEY.waiting, wait_ms)
      for _, parent in ipairs(parents) do
        if in_call[parent] then  -- created above in this call: link.lua's step, done here
          redis.call('SADD', P .. KEY.children .. parent, id)
          redis.call('PEXPIRE', P .. KEY.children .. parent, wait_ms)
          redis.call('SADD', P .. KEY.parents, parent)
          redis.call('PEXPIRE', P .. KEY.parents, wait_ms)
        end
      end
    elseif key ~= '' and due <= now then
      -- in its key's lane (entering.flush, below)
    elseif priority == 0 and due <= now then
      ready_now[#ready_now + 1] = score  -- added in one call below
      ready_now[#ready_now + 1] = id
    elseif priority == 0 then
      redis.call('ZADD', KEYS[1], score, id)  -- now: a later deferred job's ZCOUNT sees it
    else
      if due <= now then
        redis.call('ZADD', P .. KEY.ready .. priority, score, id)
        redis.call('ZADD', KEYS[2], priority, priority)
      else
        redis.call('ZADD', KEYS[1], score, id)
      end
    end
    -- Listing score: ms * 1000 + position, so a bulk call's jobs keep their order.
    listed[#listed + 1] = now * 1000 + created % 1000
    listed[#listed + 1] = id
    -- An abort request left over for a reused id must not kill the new job.
    if not fresh then redis.call('ZREM', P .. KEY.abort, id) end
    if gates ~= '' then redis.call('HSET', P .. KEY.flow, id, gates) end
    if lock ~= '' then  -- a debounced job's lock lasts as long as its definition
      local ttl = lock_ttl
      if mode == 'debounce' then ttl = due - now + tonumber(ARGV[3]) end
      redis.call('SET', P .. KEY.unique .. lock, id, 'PX', ttl)
    end
    out[#out + 1] = due
    created = created + 1
    -- The latest due time (a job's delivery, due at once, follows a deferred job).
    if due > last_due then last_due = due end
  end
end
if #ready_now > 0 then redis.call('ZADD', KEYS[1], unpack(ready_now)) end
entering.flush()
if #listed > 0 then redis.call('ZADD', KEYS[4], unpack(listed)) end
if ARGV[2] ~= '' and created > 0 then
  redis.call('SET', KEYS[5], ARGV[2], 'PX', last_due - now + tonumber(ARGV[4]))
end
if created > 0 then
  if trim then  -- Listing: drop entries older than the longest retention, and beyond the cap.
    redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', (now - tonumber(ARGV[5])) * 1000)
    redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -tonumber(ARGV[6]) - 1)
  end
  -- One token wakes one idle worker, which claims a whole batch (or, for a deferred job,
  -- shortens its wait to the new due time); a few spare tokens suffice (LPUSH answers the
  -- length: trim only past them).
  if redis.call('LPUSH', KEYS[3], '1') > 16 then redis.call('LTRIM', KEYS[3], 0, 15) end
end
return out
