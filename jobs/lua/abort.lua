-- Abort a job. Queued or deferred: settled at once as aborted, it never starts. Running: its
-- id goes into ARQ's abort set, and the worker holding the lease cancels it and settles it.
-- KEYS[1] queue  KEYS[2] abort zset  KEYS[3] failed zset
-- ARGV[1] id  ARGV[2] aborted result data without `ft` (open JSON)  ARGV[3] result ttl ms
-- Returns 'final' (already settled) | 'running' (flagged) | 'missing' | 'aborted'
-- Events  "finished" with the id when it was settled here.
local id = ARGV[1]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if redis.call('EXISTS', '@RESULT@' .. id) == 1 then return 'final' end
if redis.call('EXISTS', '@IN_PROGRESS@' .. id) == 1 then
  redis.call('ZADD', KEYS[2], now, id)
  return 'running'
end
if redis.call('EXISTS', '@JOB@' .. id) == 0 then return 'missing' end
redis.call('SET', '@RESULT@' .. id, ARGV[2] .. ',"ft":' .. now .. '}', 'PX', ARGV[3])
redis.call('DEL', '@JOB@' .. id, '@STATE@' .. id)
redis.call('ZREM', KEYS[1], id)
redis.call('ZADD', KEYS[3], now, id)
redis.call('PUBLISH', '@EVENTS@', 'finished ' .. id)
return 'aborted'
