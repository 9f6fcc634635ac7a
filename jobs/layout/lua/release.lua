-- Release waiting jobs of one queue from parents that are final (parents on other queues: their
-- settle could not reach this slot; or a sweep found them final).
-- KEYS[1] due zset
-- ARGV[1] the queue's key prefix
--   then per release 3 values: waiting job id, parent id, the parent's final status
-- Returns {ids that are queued now}
-- Events  "released" with those ids.
-- Idempotent (see deps.lua): a release repeated after a lost reply or by a sweep is a no-op.
local P = ARGV[1]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
--@include deps
local deps = dependencies(P, now, KEYS[1], @DEFINITION_TTL_MS@)
local released = {}
for i = 2, #ARGV, 3 do
  if deps.release(ARGV[i], ARGV[i + 1], ARGV[i + 2]) then released[#released + 1] = ARGV[i] end
end
if #released > 0 then
  redis.call('PUBLISH', KEY.EVENTS, 'released ' .. table.concat(released, ' '))
end
return released
