-- Settle a batch of tries in one round trip.
-- KEYS: queue, abort zset, failed zset
-- ARGV: per try 5 values: kind, id, a, b, c
--   complete|failed|aborted: a = result data, b = result ttl ms, c = finished ms
--   retry:   a = next try score ms, b = last error (JSON)
--   requeue: a = score ms (shutdown: runs again, the try does not count)
local settled = {}
for i = 1, #ARGV, 5 do
  local kind, id, a, b, c = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  if kind == 'retry' or kind == 'requeue' then
    redis.call('ZADD', KEYS[1], 'XX', a, id)
    redis.call('DEL', '@IN_PROGRESS@' .. id)
    if kind == 'retry' then
      redis.call('HSET', '@STATE@' .. id, 'error', b, 'next', a)
    else
      redis.call('HINCRBY', '@STATE@' .. id, 'tries', -1)
    end
  else
    redis.call('SET', '@RESULT@' .. id, a, 'PX', b)
    redis.call('DEL', '@JOB@' .. id, '@IN_PROGRESS@' .. id, '@STATE@' .. id)
    redis.call('ZREM', KEYS[1], id)
    if kind ~= 'complete' then
      redis.call('ZADD', KEYS[3], c, id)
      redis.call('ZREM', KEYS[2], id)
    end
  end
  settled[#settled + 1] = id
end
redis.call('PUBLISH', '@EVENTS@', 'finished ' .. table.concat(settled, ' '))
return #settled
