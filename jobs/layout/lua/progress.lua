-- Record a running try's progress, if its lease is still held by this try.
-- KEYS[1] lease  KEYS[2] state hash (both of the job's queue)
-- ARGV[1] lease token ('' from a caller holding none: not fenced)  ARGV[2] progress JSON
--   ARGV[3] job id
-- Returns 1 if recorded, 0 if the lease belongs to another try (a stale worker's progress
--         must not overwrite the current owner's).
-- Events  "progress" with the id.
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'progress', ARGV[2])
redis.call('PUBLISH', KEY.EVENTS, 'progress ' .. ARGV[3])
return 1
