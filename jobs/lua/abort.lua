-- Abort a job. Queued or deferred: settled at once, it never starts. Running: flagged in
-- ARQ's abort set, and the worker holding it cancels it.
-- KEYS: queue, abort zset, failed zset
-- ARGV: id, now ms, aborted result data, result ttl ms, job prefix, result prefix,
--       in-progress prefix, state prefix, events channel
local id = ARGV[1]
if redis.call('EXISTS', ARGV[6] .. id) == 1 then return 'final' end
if redis.call('EXISTS', ARGV[7] .. id) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[2], id)
  return 'running'
end
if redis.call('EXISTS', ARGV[5] .. id) == 0 then return 'missing' end
redis.call('SET', ARGV[6] .. id, ARGV[3], 'PX', ARGV[4])
redis.call('DEL', ARGV[5] .. id, ARGV[8] .. id)
redis.call('ZREM', KEYS[1], id)
redis.call('ZADD', KEYS[3], ARGV[2], id)
redis.call('PUBLISH', ARGV[9], 'finished ' .. id)
return 'aborted'
