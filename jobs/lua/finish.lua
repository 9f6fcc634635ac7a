-- Settle tries this worker still holds, on one queue, in one round trip.
-- KEYS[1] due zset  KEYS[2] failed zset  KEYS[3] listing index
-- ARGV[1] the queue's key prefix  ARGV[2] '1': also delete stock ARQ definitions
--   then per row 6 values: kind, job id, lease token, a, b, c
--   complete|failed|aborted  a = result data without `ft` (open JSON), b = result ttl ms,
--                            c = '1' to drop the job from the listing (keeps no result)
--   retry                    a = delay ms until the next try, b = last error (JSON)
--   requeue                  (shutdown: due at once, and the try does not count)
-- Returns {lost ids...}: rows whose lease no longer holds the token are skipped (lease lost:
--         the job's lease ran out and it may belong to another worker now; nothing of the
--         current owner is touched).
-- Events  "finished" with the final ids, "requeued" with the retried and re-queued ones.
-- Times are the server's: a worker's clock may be off, the queue's scores must not be.
local P = ARGV[1]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local finished, requeued, lost = {}, {}, {}
-- Most queues have no priorities and no abort requests: skip those deletes then.
local ranked = redis.call('EXISTS', P .. 'prio') == 1
local aborts = redis.call('EXISTS', P .. 'abort') == 1
for i = 3, #ARGV, 6 do
  local kind, id, token = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local a, b, c = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local lease_key = P .. 'lease:' .. id
  if redis.call('GET', lease_key) ~= token then
    lost[#lost + 1] = id
  elseif kind == 'retry' then
    local due = now + tonumber(a)
    redis.call('DEL', lease_key)
    redis.call('ZADD', KEYS[1], due, id)
    redis.call('HSET', P .. 'state:' .. id, 'error', b, 'next', due)
    requeued[#requeued + 1] = id
  elseif kind == 'requeue' then
    redis.call('DEL', lease_key)
    redis.call('ZADD', KEYS[1], now, id)
    redis.call('HINCRBY', P .. 'state:' .. id, 'tries', -1)
    requeued[#requeued + 1] = id
  else
    redis.call('SET', P .. 'result:' .. id, a .. ',"ft":' .. now .. '}', 'PX', b)
    redis.call('DEL', P .. 'job:' .. id, lease_key, P .. 'state:' .. id)
    if ARGV[2] == '1' then redis.call('DEL', 'arq:job:' .. id) end
    redis.call('ZREM', KEYS[1], id)
    if ranked then redis.call('HDEL', P .. 'prio', id) end
    if aborts then redis.call('ZREM', P .. 'abort', id) end
    if kind ~= 'complete' then
      redis.call('ZADD', KEYS[2], string.format('%.0f', now * 1000 + #finished % 1000), id)
    end
    if c == '1' then redis.call('ZREM', KEYS[3], id) end
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
