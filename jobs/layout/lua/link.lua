-- Make waiting jobs known to their parents on one queue, or learn that those are final already.
-- KEYS[1] the queue's `parents` set: it routes the call to the queue's slot on a Redis
--   Cluster (a keyless call goes to any node). A single server's workflow transaction
--   (jobs/graph/workflow_commit.py) EVALs it with no key, past `Script`'s count check.
-- ARGV[1] the queue's key prefix  ARGV[2] ms a waiting job may wait at most (DEPENDENCY_WAIT_S:
--   the TTL of `children` and `parents`, refreshed by each link)  ARGV[3] the waiting jobs' ids
--   (space-separated; they wait for the same parents)  then the parents' ids
-- Returns per parent: its final status ('complete', 'failed' or 'aborted'); 'live' (linked:
--         its settle releases the waiting job); or 'missing' (unknown, or expired).
-- Idempotent: a sweep links again what a crash may have left unlinked.
local P = ARGV[1]
local PARENTS = KEYS[1] or (P .. KEY.parents)
local wait_ms = tonumber(ARGV[2])
local children = {}
for child in string.gmatch(ARGV[3], '%S+') do children[#children + 1] = child end
local out = {}
for i = 4, #ARGV do
  local parent = ARGV[i]
  local result = redis.call('GET', P .. KEY.result .. parent)
  if result then
    local ok, d = pcall(cjson.decode, result)
    local status = 'failed'
    if ok and type(d) == 'table' then
      if type(d.status) == 'string' then status = d.status elseif d.s == true then status = 'complete' end
    end
    out[#out + 1] = status
  elseif redis.call('EXISTS', P .. KEY.job .. parent) == 1 then
    for start = 1, #children, 1000 do
      redis.call('SADD', P .. KEY.children .. parent,
        unpack(children, start, math.min(start + 999, #children)))
    end
    -- A linked job waits at most wait_ms from now: neither set needs to outlive that.
    redis.call('PEXPIRE', P .. KEY.children .. parent, wait_ms)
    redis.call('SADD', PARENTS, parent)
    redis.call('PEXPIRE', PARENTS, wait_ms)
    out[#out + 1] = 'live'
  else
    out[#out + 1] = 'missing'
  end
end
return out
