-- Enqueue a job in one round trip (stock ARQ: WATCH/EXISTS/EXISTS/MULTI/PSETEX/ZADD/EXEC).
-- KEYS: queue, wake list, index, idempotency key (ignored when ARGV[7] is '')
-- ARGV: id, job data, score ms, job ttl ms, now ms, ready '1'|'0', idempotency value,
--       idempotency ttl ms
local id = ARGV[1]
if ARGV[7] ~= '' then
  local existing = redis.call('GET', KEYS[4])
  if existing then return {'existing', existing} end
end
if redis.call('EXISTS', '@JOB@' .. id, '@RESULT@' .. id, '@IN_PROGRESS@' .. id) > 0 then
  return {'duplicate', id}
end
redis.call('SET', '@JOB@' .. id, ARGV[2], 'PX', ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[3], id)
redis.call('ZADD', KEYS[3], ARGV[5], id)
-- An abort request left over for a reused id must not kill the new job.
redis.call('ZREM', '@ABORT@', id)
if ARGV[7] ~= '' then redis.call('SET', KEYS[4], ARGV[7], 'PX', ARGV[8]) end
-- One token wakes one idle worker, which claims a whole batch (or, for a deferred job,
-- shortens its wait to the new due time); a few spare tokens suffice.
redis.call('LPUSH', KEYS[2], ARGV[6])
redis.call('LTRIM', KEYS[2], 0, 15)
return {'created', id}
