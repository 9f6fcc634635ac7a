-- Pick up what a claim call took when its reply never reached the worker.
-- KEYS[1] claim record (written by claim.lua)
-- ARGV    none
-- Returns claim.lua's shape: {'', started ms, id, job data, tries, ...} for every job whose
--         lease still holds the claim's token; {} when the record is gone (the claim took
--         nothing, or its lease ran out and the jobs are someone else's now).
-- The record is deleted: a claim is recovered once.
local record = redis.call('GET', KEYS[1])
if not record then return {} end
redis.call('DEL', KEYS[1])
local token, rest = string.match(record, '^(%S+) (.*)$')
local started = string.match(token, '^.*|(%d+)|[^|]*$')
local out = {'', started}
for id in string.gmatch(rest, '%S+') do
  if redis.call('GET', '@IN_PROGRESS@' .. id) == token then
    out[#out + 1] = id
    out[#out + 1] = redis.call('GET', '@JOB@' .. id) or ''
    out[#out + 1] = redis.call('HGET', '@STATE@' .. id, 'tries') or '1'
  end
end
return out
