-- Enqueue a job in one round trip (stock ARQ: WATCH/EXISTS/EXISTS/MULTI/PSETEX/ZADD/EXEC).
-- KEYS[1] queue  KEYS[2] wake list  KEYS[3] listing index
--   KEYS[4] idempotency key (ignored when ARGV[5] is '')
-- ARGV[1] id  ARGV[2] job data without `et` (open JSON: the script appends the server's time)  ARGV[3] delay ms  ARGV[4] due ms ('' : now + delay)
--   ARGV[5] idempotency value  ARGV[6] job ttl ms beyond its due time
--   ARGV[7] idempotency ttl ms beyond its due time
-- Returns {'created', id, now ms, due ms} | {'existing', idempotency value} | {'duplicate', id}
-- Times are the server's: a producer whose clock runs ahead must not defer every job it sends.
local id = ARGV[1]
if ARGV[5] ~= '' then
  local existing = redis.call('GET', KEYS[4])
  if existing then return {'existing', existing} end
end
if redis.call('EXISTS', '@JOB@' .. id, '@RESULT@' .. id, '@IN_PROGRESS@' .. id) > 0 then
  return {'duplicate', id}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local due = now + tonumber(ARGV[3])
if ARGV[4] ~= '' then due = math.max(now, tonumber(ARGV[4])) end
local data = ARGV[2] .. ',"et":' .. now .. '}'  -- open JSON: records.open_json
redis.call('SET', '@JOB@' .. id, data, 'PX', due - now + tonumber(ARGV[6]))
redis.call('ZADD', KEYS[1], due, id)
redis.call('ZADD', KEYS[3], now, id)
-- An abort request left over for a reused id must not kill the new job.
redis.call('ZREM', '@ABORT@', id)
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[4], ARGV[5], 'PX', due - now + tonumber(ARGV[7]))
end
-- One token wakes one idle worker, which claims a whole batch (or, for a deferred job,
-- shortens its wait to the new due time); a few spare tokens suffice.
redis.call('LPUSH', KEYS[2], '1')
redis.call('LTRIM', KEYS[2], 0, 15)
return {'created', id, now, due}
