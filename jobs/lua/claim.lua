-- Claim up to N ready jobs atomically. The in-progress key (ARQ's) is the lease; the job's
-- queue score moves to the lease's end, so running jobs leave the ready range and a dead
-- worker's job becomes ready again exactly when its lease runs out.
-- KEYS: queue
-- ARGV: lease ms, limit, worker id
-- Returns {next due score or '', now ms, id, job data, tries, id, job data, tries, ...}
-- "Now" is the server's clock: a worker may send this script before it blocks (pipelined
-- behind BLPOP), so a time taken by the worker would be stale by the time it runs.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {'', now}
local claimed = {}
local token = ARGV[3] .. '|' .. now
for _, id in ipairs(ids) do
  local lease_key = '@IN_PROGRESS@' .. id
  if redis.call('SET', lease_key, token, 'NX', 'PX', lease) then
    redis.call('ZADD', KEYS[1], 'XX', now + lease, id)
    out[#out + 1] = id
    out[#out + 1] = redis.call('GET', '@JOB@' .. id) or ''
    out[#out + 1] = redis.call('HINCRBY', '@STATE@' .. id, 'tries', 1)
    claimed[#claimed + 1] = id
  else
    -- Held by another worker (e.g. a stock ARQ one): skip it until its lease ends.
    local ttl = redis.call('PTTL', lease_key)
    if ttl < 1000 then ttl = 1000 end
    redis.call('ZADD', KEYS[1], 'XX', now + ttl, id)
  end
end
if #claimed > 0 then
  redis.call('PUBLISH', '@EVENTS@', 'started ' .. table.concat(claimed, ' '))
elseif #ids == 0 then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if first[2] then out[1] = first[2] end
end
return out
