-- Claim up to N jobs of one queue, best first: priority 0 in due order, then each higher
-- priority (lowest number first) in due order. Each gets a lease holding the lease token; its
-- due-set score becomes the lease's end, so running jobs are out of the due range and a dead
-- worker's job comes due again exactly when its lease runs out.
-- KEYS[1] due zset  KEYS[2] priority levels zset  KEYS[3] claim record  KEYS[4] paused flag
-- ARGV[1] the queue's key prefix  ARGV[2] lease ms  ARGV[3] limit  ARGV[4] worker id
--   ARGV[5] claim id  ARGV[6] '1': also read stock ARQ definitions (`arq:job:{id}`), and
--   mark those running at ARQ's `arq:in-progress:{id}` (for a stock ARQ client's status)
--   ARGV[7] an earlier claim id of this worker whose reply arrived ('' none): its record goes
-- Returns {next due score, 'paused' or aborts, now ms, id, job data, tries, due score, ...};
--   due score: when the job came due (the worker's lateness metric: start minus due); aborts: the
--   claimed ids with an abort request (space-separated, '' none), e.g. flagged while their
--   worker was stalled past the lease: the worker settles them aborted without running them,
--   and their tries are not counted (a claim of nothing else counts one).
-- Events  "started" with the claimed ids.
-- "Now" is the server's clock: a worker may send this script before it blocks (pipelined
-- behind BLPOP), so a time taken by the worker would be stale by the time it runs.
-- Flow control (flow.lua): a job with gates starts only when they let it; else it is held
-- at its gate and the claim goes on with the next job (no head-of-line blocking). Gates'
-- timers that are due fire first. The next due score reported is also a timer's.
-- The claim record ("{token} {id} {id} ...", kept for one lease) lets a worker whose reply
-- was lost (connection dropped after the script ran) find what it holds and run it at once,
-- instead of waiting out the lease and losing a try (see reclaim.lua).
-- Fair shares (fair.lua): a due job with a fair key moves to its key's lane at its level; a
-- level with fair keys is served in turn, its plain jobs being one more key (at priority 0 too,
-- once a fair job waits there: priority-0 plain jobs then wait in `ready:0`).
local P = ARGV[1]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
--@include flow
--@include fair
local now_us = tonumber(time[1]) * 1000000 + tonumber(time[2])
local flow = flow_gates(P, now, now_us, tonumber(ARGV[2]), KEYS[1])
if ARGV[7] and ARGV[7] ~= '' then redis.call('DEL', P .. KEY.claim .. ARGV[7]) end
if redis.call('EXISTS', KEYS[4]) == 1 then return {'', 'paused', now} end
local lease, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local token = ARGV[4] .. '|' .. now .. '|' .. ARGV[5]
local out = {'', '', now}
local claimed = {}
local due_of = {}  -- id -> its due score, for the reply
local gated = redis.call('EXISTS', P .. KEY.flow) == 1
if gated then flow.timers() end
local unknown = redis.call('EXISTS', P .. KEY.unknown) == 1

-- Takes the lease; what every claimed job needs besides is done for all of them at the end.
local function claim(id)
  local lease_key = P .. KEY.lease .. id
  if not redis.call('SET', lease_key, token, 'NX', 'PX', lease) then
    -- Held by another try: skip it until that lease ends.
    local ttl = redis.call('PTTL', lease_key)
    if ttl < 1000 then ttl = 1000 end
    redis.call('ZADD', KEYS[1], now + ttl, id)
    return
  end
  claimed[#claimed + 1] = id
end

-- A score is its due ms plus a fraction (the job's place within that millisecond), so
-- everything below now + 1 is due: a job enqueued in this very millisecond included.
-- Due entries, in due order: priority 0 ones are taken; others (deferred, retried, or whose
-- lease ran out) move to their priority's ready set, keeping their due time as their rank.
-- Up to `limit` priority-0 entries are taken, looking past at most SCAN prioritised or held
-- ones (each leaves the due set: the next page starts after the ones taken).
local SCAN = 1000
local ranked = redis.call('EXISTS', P .. KEY.priorities) == 1
local fairly = redis.call('EXISTS', P .. KEY.fair) == 1
local fair = fair_shares(P)
-- Priority-0 plain jobs take turns with fair ones while any of those is ready.
local shared0 = fairly and redis.call('EXISTS', P .. KEY.fair_keys .. 0) == 1
local take, seen, kept = {}, 0, 0  -- kept: taken ones still in the due range
while #take < limit and seen < SCAN do
  local asked = limit - #take
  local batch = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now + 1), 'WITHSCORES',
    'LIMIT', kept, asked)
  if #batch == 0 then break end
  for i = 1, #batch, 2 do
    local id, score = batch[i], batch[i + 1]
    local priority = ranked and redis.call('HGET', P .. KEY.priorities, id)
    local key = fairly and redis.call('HGET', P .. KEY.fair, id)
    local gates = not priority and not key and not shared0 and gated and flow.spec(id)
    if key then
      redis.call('ZREM', KEYS[1], id)
      fair.enter(id, priority or 0, score, key)
      shared0 = shared0 or not priority
      seen = seen + 1
    elseif shared0 and not priority then
      redis.call('ZREM', KEYS[1], id)
      redis.call('ZADD', P .. KEY.ready .. 0, score, id)
      seen = seen + 1
    elseif priority then
      redis.call('ZREM', KEYS[1], id)
      redis.call('ZADD', P .. KEY.ready .. priority, score, id)
      redis.call('ZADD', KEYS[2], priority, priority)
      seen = seen + 1
    elseif gates and not flow.admit(id, score, 0, gates) then
      redis.call('ZREM', KEYS[1], id)  -- held at a gate: out of the due set
      seen = seen + 1
    else
      take[#take + 1] = id
      due_of[id] = score
      kept = kept + 1
    end
  end
  -- Fewer than asked: nothing more is due.
  if #batch < 2 * asked or not (ranked or gated or fairly) then break end
end
for _, id in ipairs(take) do claim(id) end

-- Then the ready sets, best priority first.
while #claimed < limit do
  local level = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not level then break end
  local ready = P .. KEY.ready .. level
  local batch
  local shared = fairly and ((level == '0' and shared0)
    or redis.call('EXISTS', P .. KEY.fair_keys .. level) == 1)
  if shared then
    batch = fair.serve(level, limit - #claimed)  -- taken out of their lanes already
  else
    batch = redis.call('ZRANGE', ready, 0, limit - #claimed - 1, 'WITHSCORES')
    for i = 1, #batch, 2 do redis.call('ZREM', ready, batch[i]) end
    if redis.call('ZCARD', ready) == 0 then redis.call('ZREM', KEYS[2], level) end
  end
  -- A gate holds jobs in the order of their rank: for jobs served in turn, the order of their
  -- turns (a gate shared by tenants would else release them in due order, unfairly): now plus
  -- n/4096 for the n-th turn given in this millisecond (by any claim: `sequence` counts them).
  local turn = nil
  if shared and gated and #batch > 0 then
    local last = redis.call('HMGET', P .. KEY.sequence, 'tm', 'tn')
    turn = tonumber(last[1]) == now and tonumber(last[2]) or 0
    redis.call('HSET', P .. KEY.sequence, 'tm', now, 'tn', turn + #batch / 2)
  end
  for i = 1, #batch, 2 do
    local id = batch[i]
    due_of[id] = batch[i + 1]
    local rank = batch[i + 1]
    if turn then rank = now + math.min(turn + (i - 1) / 2, 4095) / 4096 end
    if not gated or flow.admit(id, rank, level) then claim(id) end
  end
end

if #claimed > 0 then
  -- The claimed jobs leave the due range until their leases end, all in one call; their
  -- definitions come in one call too.
  local ends, job_keys = {}, {}
  for i, id in ipairs(claimed) do
    ends[2 * i - 1], ends[2 * i] = now + lease, id
    job_keys[i] = P .. KEY.job .. id
  end
  redis.call('ZADD', KEYS[1], unpack(ends))
  -- A job put back by a worker that did not know it (finish.lua's `defer`) waits for one no
  -- more: this worker runs it, or puts it back again if it does not know it either.
  if unknown then redis.call('HDEL', P .. KEY.unknown, unpack(claimed)) end
  local definitions = redis.call('MGET', unpack(job_keys))
  local abort_key = P .. KEY.abort
  local aborts = redis.call('EXISTS', abort_key) == 1 and {}
  for i, id in ipairs(claimed) do
    local data = definitions[i]
    if not data and ARGV[6] == '1' then
      data = redis.call('GET', KEY.LEGACY_JOB .. id)
      -- A stock ARQ client's `Job.status()` says in_progress while this key is there:
      -- finish.lua drops it when the try ends; it outlives a dead worker no longer than the
      -- definition (`arq:job:{id}`) would.
      if data then
        redis.call('SET', KEY.LEGACY_IN_PROGRESS .. id, '1', 'PX', @DEFINITION_TTL_MS@)
      end
    end
    out[#out + 1] = id
    out[#out + 1] = data or ''
    if aborts and redis.call('ZSCORE', abort_key, id) then
      aborts[#aborts + 1] = id
      out[#out + 1] = redis.call('HGET', P .. KEY.state .. id, 'tries') or 0
    else
      out[#out + 1] = redis.call('HINCRBY', P .. KEY.state .. id, 'tries', 1)
    end
    out[#out + 1] = due_of[id] or ''
  end
  if aborts then out[2] = table.concat(aborts, ' ') end
  redis.call('SET', KEYS[3], token .. ' ' .. table.concat(claimed, ' '), 'PX', lease)
  redis.call('PUBLISH', KEY.EVENTS, 'started ' .. table.concat(claimed, ' '))
else
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if first[2] then out[1] = first[2] end
  if gated then  -- a gate's timer may come first
    local timer = redis.call('ZRANGE', P .. KEY.timers, 0, 0, 'WITHSCORES')
    if timer[2] and (out[1] == '' or tonumber(timer[2]) < tonumber(out[1])) then out[1] = timer[2] end
  end
end
return out
