-- Record a running try's progress, or a step's result (ctx.step), if its lease is still held
-- by this try.
-- KEYS[1] lease  KEYS[2] state hash (both of the job's queue)
-- ARGV[1] lease token ('' from a caller holding none: not fenced)  ARGV[2] the value (JSON)
--   ARGV[3] job id  ARGV[4] the state field: 'progress' (absent: the same), or 'step:{name}'
-- Returns 1 if recorded, 0 if the lease belongs to another try (a stale worker's progress
--         or step must not overwrite the current owner's).
-- Events  "progress" with the id.
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[4] or 'progress', ARGV[2])
redis.call('PUBLISH', KEY.EVENTS, 'progress ' .. ARGV[3])
return 1
