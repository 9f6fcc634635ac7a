-- Renew this worker's leases; report the ones it no longer holds.
-- KEYS: queue
-- ARGV: now ms, lease ms, in-progress prefix, then pairs: id, token
local now, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local lost = {}
for i = 4, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local lease_key = ARGV[3] .. id
  if redis.call('GET', lease_key) == token then
    redis.call('PEXPIRE', lease_key, lease)
    redis.call('ZADD', KEYS[1], 'XX', now + lease, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
