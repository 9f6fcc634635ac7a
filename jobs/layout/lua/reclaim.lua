-- Pick up what a claim call took when its reply never reached the worker.
-- KEYS[1] claim record (written by claim.lua)
-- ARGV[1] the queue's key prefix  ARGV[2] '1': also read stock ARQ definitions
-- Returns claim.lua's shape: {'', '', started ms, id, job data, tries, ...} for every job
--         whose lease still holds the claim's token; {} when the record is gone (the claim
--         took nothing, or its lease ran out and the jobs are someone else's now).
-- The record is deleted: a claim is recovered once.
local P = ARGV[1]
local record = redis.call('GET', KEYS[1])
if not record then return {} end
redis.call('DEL', KEYS[1])
local token, rest = string.match(record, '^(%S+) (.*)$')
local started = string.match(token, '^.*|(%d+)|[^|]*$')
local out = {'', '', started}
for id in string.gmatch(rest, '%S+') do
  if redis.call('GET', P .. KEY.lease .. id) == token then
    out[#out + 1] = id
    local data = redis.call('GET', P .. KEY.job .. id)
    if not data and ARGV[2] == '1' then data = redis.call('GET', KEY.LEGACY_JOB .. id) end
    out[#out + 1] = data or ''
    out[#out + 1] = redis.call('HGET', P .. KEY.state .. id, 'tries') or '1'
    out[#out + 1] = ''  -- its due time is not kept: no lateness for a recovered claim
  end
end
return out
