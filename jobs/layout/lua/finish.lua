-- Settle tries this worker still holds, on one queue, in one round trip.
-- KEYS[1] due zset  KEYS[2] failed zset  KEYS[3] listing index
-- ARGV[1] the queue's key prefix  ARGV[2] '1' (single Redis): also delete stock ARQ
--   definitions, and on the default queue serve stock ARQ clients: copy the final record of a
--   stock ARQ producer's job (c has 'a') to ARQ's `arq:result:{id}`, drop ARQ's
--   `arq:in-progress:{id}` (claim.lua's) when its try ends
--   ARGV[3] lease ms (a slot freed here is reserved that long for the held job it goes to)
--   then per row 6 values: kind, job id, lease token, a, b, c
--   complete|failed|aborted  a = result data without `ft` (open JSON), b = result ttl ms,
--                            c = flags: '1' drop the job from the listing (keeps no
--                            result), 'a' a stock ARQ producer's job
--   retry                    a = delay ms until the next try, b = last error (JSON)
--   requeue                  (shutdown: due at once, and the try does not count)
--   defer                    a = delay ms, b = the job's name: the worker does not know the
--                            job (a rolling deploy); due again after the delay, for a worker
--                            that knows it; the try does not count; listed as unknown
--   suspend                  a = delay ms, b = a signal's name ('' none): the job sleeps
--                            (`ctx.sleep`) or waits for that signal (`ctx.wait_for_signal`,
--                            parked: signal.lua wakes it) until due again after the delay;
--                            the try does not count (the next one goes on from its steps)
-- Returns {{lost ids...}, {child, parent, status, ...}}: rows whose lease no longer holds the
--         token are skipped (lease lost: the job's lease ran out and it may belong to another
--         worker now; nothing of the current owner is touched); then the releases this
--         call owes to waiting jobs on other queues (the caller sends them: release.lua).
-- Events  "finished" with the final ids, "requeued" with the retried and re-queued ones,
--         "released" with the waiting jobs of this queue queued now.
-- Times are the server's: a worker's clock may be off, the queue's scores must not be.
-- Flow control (flow.lua): a settled try of a gated job frees its slot for the next held job;
-- a final one also drops its unique lock. Dependencies (deps.lua): a final job releases the
-- jobs waiting for it, here for those of this queue.
local P = ARGV[1]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
--@include flow
--@include deps
local now_us = tonumber(time[1]) * 1000000 + tonumber(time[2])
local flow = flow_gates(P, now, now_us, tonumber(ARGV[3]), KEYS[1])
local deps = dependencies(P, now, KEYS[1], @DEFINITION_TTL_MS@)
local gated = redis.call('EXISTS', P .. KEY.flow) == 1
local linked = redis.call('EXISTS', P .. KEY.parents) == 1
local relay, released = {}, {}
local finished, requeued, lost = {}, {}, {}
-- Most queues have no priorities and no abort requests: skip those deletes then.
local ranked = redis.call('EXISTS', P .. KEY.priorities) == 1
local fairly = redis.call('EXISTS', P .. KEY.fair) == 1  -- fair keys (fair.lua)
local aborts = redis.call('EXISTS', P .. KEY.abort) == 1
-- A stock ARQ client reads outcomes at ARQ's keys (`Job.result()`, `Job.status()`); on a
-- cluster those keys are in other slots, and no stock ARQ client reads there. Only a stock
-- producer's jobs get a copy: one for every job would cost a write and the record's memory
-- again per job (bench/README.md, issue 19).
local arq = ARGV[2] == '1' and P == KEY.PREFIX_OPEN .. KEY.DEFAULT_QUEUE .. KEY.PREFIX_CLOSE

-- One call per command for the whole batch where the command takes many keys or members
-- (per-call overhead is most of a script's cost), in chunks that Lua's unpack can take.
local function each(command, key, items)
  for start = 1, #items, 1000 do
    local last = math.min(start + 999, #items)
    if key then
      redis.call(command, key, unpack(items, start, last))
    else
      redis.call(command, unpack(items, start, last))
    end
  end
end

local lease_keys = {}
for i = 4, #ARGV, 6 do lease_keys[#lease_keys + 1] = P .. KEY.lease .. ARGV[i + 1] end
local leases = redis.call('MGET', unpack(lease_keys))
local settled, gone, failed, unlisted = {}, {}, {}, {}
local stamped = ',"ft":' .. now .. '}'  -- closes each result: the server's settle time
for i = 4, #ARGV, 6 do
  local kind, id, token = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local a, b, c = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local row = (i - 4) / 6 + 1
  local lease_key = lease_keys[row]
  if leases[row] ~= token or settled[id] then
    -- Only a stored row marks its id: a stale try's row (its worker stalled past the lease)
    -- may share a batch with the row of the try that holds the lease now, which must still
    -- be stored; a second row for the same try finds its lease gone.
    lost[#lost + 1] = id
  elseif kind == 'retry' then
    settled[id] = true
    local due = now + tonumber(a)
    redis.call('DEL', lease_key)
    redis.call('ZADD', KEYS[1], due, id)
    redis.call('HSET', P .. KEY.state .. id, 'error', b, 'next', due)
    if arq then redis.call('DEL', KEY.LEGACY_IN_PROGRESS .. id) end
    requeued[#requeued + 1] = id
    if gated then flow.settle(id, false) end
  elseif kind == 'requeue' or kind == 'defer' or kind == 'suspend' then
    settled[id] = true
    redis.call('DEL', lease_key)
    redis.call('ZADD', KEYS[1], now + (tonumber(a) or 0), id)
    -- claim.lua counted this try: it never ran the job, so it does not count.
    redis.call('HINCRBY', P .. KEY.state .. id, 'tries', -1)
    -- Waiting for a worker that knows it (for /queues) until one claims it (claim.lua).
    if kind == 'defer' then redis.call('HSET', P .. KEY.unknown, id, b) end
    if kind == 'suspend' and b ~= '' then redis.call('HSET', P .. KEY.state .. id, 'parked', b) end
    if arq then redis.call('DEL', KEY.LEGACY_IN_PROGRESS .. id) end
    requeued[#requeued + 1] = id
    if gated then flow.settle(id, false) end
  else
    settled[id] = true
    local record = a .. stamped
    redis.call('SET', P .. KEY.result .. id, record, 'PX', b)
    gone[#gone + 1] = P .. KEY.job .. id
    gone[#gone + 1] = lease_key
    gone[#gone + 1] = P .. KEY.state .. id
    if ARGV[2] == '1' then gone[#gone + 1] = KEY.LEGACY_JOB .. id end
    if arq and (c == 'a' or c == '1a') then
      redis.call('SET', KEY.LEGACY_RESULT .. id, record, 'PX', b)
      gone[#gone + 1] = KEY.LEGACY_IN_PROGRESS .. id
    end
    if kind ~= 'complete' then
      failed[#failed + 1] = now * 1000 + #finished % 1000  -- a number: printed exactly
      failed[#failed + 1] = id
    end
    if c == '1' or c == '1a' then unlisted[#unlisted + 1] = id end
    finished[#finished + 1] = id
    if gated then flow.settle(id, true) end
    if linked then deps.parent_final(id, kind, relay, released) end
  end
end
if #finished > 0 then
  each('DEL', nil, gone)
  each('ZREM', KEYS[1], finished)
  if ranked then each('HDEL', P .. KEY.priorities, finished) end
  if fairly then each('HDEL', P .. KEY.fair, finished) end
  if aborts then each('ZREM', P .. KEY.abort, finished) end
  if #failed > 0 then each('ZADD', KEYS[2], failed) end
  if #unlisted > 0 then each('ZREM', KEYS[3], unlisted) end
end
if #finished > 0 then
  redis.call('PUBLISH', KEY.EVENTS, 'finished ' .. table.concat(finished, ' '))
end
if #requeued > 0 then
  redis.call('PUBLISH', KEY.EVENTS, 'requeued ' .. table.concat(requeued, ' '))
end
if #released > 0 then
  redis.call('PUBLISH', KEY.EVENTS, 'released ' .. table.concat(released, ' '))
end
return {lost, relay}
