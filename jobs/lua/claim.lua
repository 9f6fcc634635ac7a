-- Claim up to N ready jobs atomically: each gets a lease (ARQ's in-progress key) holding the
-- lease token, and its queue score moves to the lease's end, so running jobs leave the ready
-- range and a dead worker's job becomes ready again exactly when its lease runs out.
-- KEYS[1] queue  KEYS[2] claim record (`jobsvc:claim:{claim id}`)
-- ARGV[1] lease ms  ARGV[2] limit  ARGV[3] worker id  ARGV[4] claim id
-- Returns {next due score or '', now ms, id, job data, tries, id, job data, tries, ...}
-- Events  "started" with the claimed ids.
-- "Now" is the server's clock: a worker may send this script before it blocks (pipelined
-- behind BLPOP), so a time taken by the worker would be stale by the time it runs.
-- The claim record ("{token} {id} {id} ...", kept for one lease) lets a worker whose reply
-- was lost (connection dropped after the script ran) find what it holds and run it at once,
-- instead of waiting out the lease and losing a try (see reclaim.lua).
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {'', now}
local claimed = {}
local token = ARGV[3] .. '|' .. now .. '|' .. ARGV[4]
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
  redis.call('SET', KEYS[2], token .. ' ' .. table.concat(claimed, ' '), 'PX', lease)
  redis.call('PUBLISH', '@EVENTS@', 'started ' .. table.concat(claimed, ' '))
elseif #ids == 0 then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if first[2] then out[1] = first[2] end
end
return out
