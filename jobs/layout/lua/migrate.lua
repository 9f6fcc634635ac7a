-- Move one job queued under the previous layout (ARQ's: the queue's name is its sorted set,
-- the definition at `arq:job:{id}`) onto its queue's keys. Single Redis only (the previous
-- layout never ran on a cluster).
-- KEYS[1] old queue zset  KEYS[2] due zset  KEYS[3] listing index
-- ARGV[1] the queue's key prefix  ARGV[2] old id  ARGV[3] new id (`{old id}@{queue}`)
-- Returns 1 if moved; 0 if the job is running (leased under the old layout: its worker still
--         settles it there) or the member is not a job (its definition is gone, or it never
--         was one: the sorted set is left as it is).
local P, old, new = ARGV[1], ARGV[2], ARGV[3]
local score = redis.call('ZSCORE', KEYS[1], old)
if not score or redis.call('EXISTS', KEY.LEGACY_IN_PROGRESS .. old) == 1 then return 0 end
local data = redis.call('GET', KEY.LEGACY_JOB .. old)
-- Not a job (a sorted set of someone else's that shares the queue's name): leave it be.
if not data then return 0 end
redis.call('ZREM', KEYS[1], old)
local ttl = redis.call('PTTL', KEY.LEGACY_JOB .. old)
if ttl < 0 then ttl = 86400000 end
redis.call('SET', P .. KEY.job .. new, data, 'PX', ttl)
redis.call('DEL', KEY.LEGACY_JOB .. old)
redis.call('ZADD', KEYS[2], score, new)
redis.call('ZADD', KEYS[3], string.format('%.0f', tonumber(score) * 1000), new)
return 1
