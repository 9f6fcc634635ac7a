-- Settle tries this worker still holds, in one round trip.
-- KEYS[1] queue  KEYS[2] abort zset  KEYS[3] failed zset
-- ARGV    per row 5 values: kind, job id, lease token, a, b
--   complete|failed|aborted  a = result data without `ft` (open JSON), b = result ttl ms
--   retry                    a = delay ms until the next try, b = last error (JSON)
--   requeue                  (shutdown: runs again at once, the try does not count)
-- Returns {lost ids...}: rows whose lease no longer holds the token are skipped (lease lost:
--         the job's lease ran out and it may belong to another worker now; nothing of the
--         current owner is touched).
-- Events  "finished" with the final ids, "requeued" with the retried and re-queued ones.
-- Times are the server's: a worker's clock may be off, the queue's scores must not be.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local finished, requeued, lost = {}, {}, {}
for i = 1, #ARGV, 5 do
  local kind, id, token, a, b = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local lease_key = '@IN_PROGRESS@' .. id
  if redis.call('GET', lease_key) ~= token then
    lost[#lost + 1] = id
  elseif kind == 'retry' or kind == 'requeue' then
    redis.call('DEL', lease_key)
    if kind == 'retry' then
      local due = now + tonumber(a)
      redis.call('ZADD', KEYS[1], 'XX', due, id)
      redis.call('HSET', '@STATE@' .. id, 'error', b, 'next', due)
    else
      redis.call('ZADD', KEYS[1], 'XX', now, id)
      redis.call('HINCRBY', '@STATE@' .. id, 'tries', -1)
    end
    requeued[#requeued + 1] = id
  else
    redis.call('SET', '@RESULT@' .. id, a .. ',"ft":' .. now .. '}', 'PX', b)
    redis.call('DEL', '@JOB@' .. id, lease_key, '@STATE@' .. id)
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    if kind ~= 'complete' then redis.call('ZADD', KEYS[3], now, id) end
    finished[#finished + 1] = id
  end
end
if #finished > 0 then
  redis.call('PUBLISH', '@EVENTS@', 'finished ' .. table.concat(finished, ' '))
end
if #requeued > 0 then
  redis.call('PUBLISH', '@EVENTS@', 'requeued ' .. table.concat(requeued, ' '))
end
return lost
