-- Re-seal one stored value with the first key of ENCRYPTION_KEYS (jobs/layout/rekey.py), unless
-- it changed since it was read: a settle, a retry or a step written meanwhile wins.
-- KEYS[1] a job's definition or final record (a string), its state (a hash), or the schedules
-- ARGV[1] the hash field, or '' for a string  ARGV[2] the value as read  ARGV[3] re-sealed
-- Returns 1 if replaced (its TTL kept), 0 if the value changed or went meanwhile.
-- Events  none: what the value says is unchanged.
if ARGV[1] == '' then
  if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
  redis.call('SET', KEYS[1], ARGV[3], 'KEEPTTL')
else
  if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
return 1
