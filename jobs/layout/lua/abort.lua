-- Abort a job. Queued or deferred: settled at once as aborted, it never starts. Running: its
-- id goes into the queue's abort set, and the worker holding the lease cancels and settles it.
-- KEYS[1] due zset  KEYS[2] priority levels zset  KEYS[3] failed zset  KEYS[4] abort zset
-- ARGV[1] the queue's key prefix  ARGV[2] id  ARGV[3] aborted result data without `ft`
--   (open JSON)  ARGV[4] result ttl ms  ARGV[5] '1': the definition is a stock ARQ one
--   ARGV[6] lease ms (a slot the job had reserved goes to the next held job for that long)
-- Returns {'final' (already settled) | 'running' (flagged) | 'missing' | 'aborted'}, and after
--         'aborted' the releases owed to jobs waiting for it on other queues (child, parent,
--         status, ...; the caller sends them: release.lua).
-- Events  "finished" with the id when it was settled here, "released" with the jobs of this
--         queue that waited only for it.
-- A job held at a gate (flow.lua) leaves its held set; its reserved slot and unique lock go.
-- A job waiting for parents (deps.lua) stops waiting; the jobs waiting for it are released.
local P, id = ARGV[1], ARGV[2]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
--@include flow
--@include deps
local now_us = tonumber(time[1]) * 1000000 + tonumber(time[2])
local flow = flow_gates(P, now, now_us, tonumber(ARGV[6]), KEYS[1])
local deps = dependencies(P, now, KEYS[1], @DEFINITION_TTL_MS@)
if redis.call('EXISTS', P .. KEY.result .. id) == 1 then return {'final'} end
if redis.call('EXISTS', P .. KEY.lease .. id) == 1 then
  redis.call('ZADD', KEYS[4], now, id)
  return {'running'}
end
local job_key = P .. KEY.job .. id
if ARGV[5] == '1' then job_key = KEY.LEGACY_JOB .. id end
if redis.call('EXISTS', job_key) == 0 then return {'missing'} end
local record = ARGV[3] .. ',"ft":' .. now .. '}'
redis.call('SET', P .. KEY.result .. id, record, 'PX', ARGV[4])
-- A stock ARQ client reads the outcome of its producer's job at ARQ's key (see finish.lua).
if ARGV[5] == '1' then redis.call('SET', KEY.LEGACY_RESULT .. id, record, 'PX', ARGV[4]) end
local wait = redis.call('HGET', P .. KEY.state .. id, 'wait')
if wait then
  wait = cjson.decode(wait)
  redis.call('ZREM', P .. KEY.held .. wait.gate, wait.member)
end
flow.settle(id, true)
redis.call('DEL', job_key, P .. KEY.state .. id, P .. KEY.deps .. id)
redis.call('ZREM', P .. KEY.waiting, id)
redis.call('ZREM', KEYS[1], id)
redis.call('HDEL', P .. KEY.unknown, id)  -- it waits for a worker that knows it no more
local priority = redis.call('HGET', P .. KEY.priorities, id)
if priority then
  local ready = P .. KEY.ready .. priority
  redis.call('ZREM', ready, id)
  if redis.call('ZCARD', ready) == 0 then redis.call('ZREM', KEYS[2], priority) end
  redis.call('HDEL', P .. KEY.priorities, id)
end
-- Fair shares (fair.lua): out of its key's lane (the key leaves the round at its next turn),
-- or out of `ready:0`, where priority-0 plain jobs wait while fair ones do.
local key = redis.call('HGET', P .. KEY.fair, id)
if key then
  local lane = P .. KEY.lane .. (priority or 0) .. ':' .. key
  if key == '' then lane = P .. KEY.ready .. (priority or 0) end
  redis.call('ZREM', lane, id)
  redis.call('HDEL', P .. KEY.fair, id)
elseif not priority then
  redis.call('ZREM', P .. KEY.ready .. 0, id)
end
redis.call('ZADD', KEYS[3], string.format('%.0f', now * 1000), id)  -- like finish.lua's
redis.call('PUBLISH', KEY.EVENTS, 'finished ' .. id)
local relay, released = {'aborted'}, {}
deps.parent_final(id, 'aborted', relay, released)
if #released > 0 then
  redis.call('PUBLISH', KEY.EVENTS, 'released ' .. table.concat(released, ' '))
end
return relay
