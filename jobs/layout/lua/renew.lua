-- Renew this worker's leases on one queue; report the ones it no longer holds.
-- KEYS[1] due zset
-- ARGV[1] the queue's key prefix  ARGV[2] lease ms, then pairs: job id, lease token
-- Returns {lost ids...}: leases that ran out or belong to another claim now (that worker
--         cancels those tries and writes nothing for them).
-- The new lease end is the server's now + lease, like claim.lua's; a gated job's slot
-- (flow.lua's `running:{c}`) is held as long as its lease.
local P = ARGV[1]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[2])
local gated = redis.call('EXISTS', P .. KEY.flow) == 1
local lost = {}
for i = 3, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local lease_key = P .. KEY.lease .. id
  if redis.call('GET', lease_key) == token then
    redis.call('PEXPIRE', lease_key, lease)
    redis.call('ZADD', KEYS[1], 'XX', now + lease, id)
    local gates = gated and redis.call('HGET', P .. KEY.flow, id)
    if gates then
      local c = cjson.decode(gates).c
      if c then redis.call('ZADD', P .. KEY.running .. c, 'XX', now + lease, id) end
    end
  else
    lost[#lost + 1] = id
  end
end
return lost
