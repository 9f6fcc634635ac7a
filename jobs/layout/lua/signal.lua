-- Deliver a signal to a job parked waiting for it (`ctx.wait_for_signal`): its body is stored
-- in the job's state (the next try reads it), and the job is due at once.
-- KEYS[1] due zset  KEYS[2] wake list
-- ARGV[1] the queue's key prefix  ARGV[2] id  ARGV[3] signal name  ARGV[4] body (JSON)
-- Returns {'delivered'}, or {'not_waiting', what it waits for ('' none)}: a job not parked, or
--         parked for another signal, takes nothing (the client learns it: a 409).
-- Events  "requeued" with the id.
local P, id, name = ARGV[1], ARGV[2], ARGV[3]
local state = P .. KEY.state .. id
local parked = redis.call('HGET', state, 'parked')
if parked ~= name or redis.call('EXISTS', P .. KEY.lease .. id) == 1 then
  return {'not_waiting', parked or ''}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('HSET', state, 'sig:' .. name, ARGV[4])
redis.call('HDEL', state, 'parked')
redis.call('ZADD', KEYS[1], now, id)
if redis.call('LPUSH', KEYS[2], '1') > 16 then redis.call('LTRIM', KEYS[2], 0, 15) end
redis.call('PUBLISH', KEY.EVENTS, 'requeued ' .. id)
return {'delivered'}
