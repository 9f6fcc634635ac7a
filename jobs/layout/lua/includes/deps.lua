-- Dependencies (jobs/graph/dependencies.py): a job enqueued `after` other jobs waits until each
-- of them is final. Not a script of its own: finish.lua, abort.lua and release.lua include it
-- (`--@include deps`) and make its functions for the call with what they work on:
--   local deps = dependencies(P, now, due, definition_ttl)
-- P the queue's key prefix, now the server's time (ms), due the due zset's key, definition_ttl
-- how long (ms) a released job's definition is kept beyond its due time. Then
-- deps.release(child, parent, status), deps.parent_final(parent, status, relay, released).
--
-- Every key below carries a TTL of DEPENDENCY_WAIT_S (set by enqueue.lua and link.lua, refreshed
-- by each link): nothing that waits outlives the longest wait, whoever serves the queue.
-- Keys, in the waiting job's (the child's) slot:
--   deps:{id}     set of the parents it still waits for
--   state:{id}    fields `deps` (how many it still waits for; absent once released),
--                 `p:{parent}` (each parent's final status, recorded when it is released),
--                 `op` ('fail' or 'ignore': what a parent that did not complete means)
--   waiting       zset id -> ms of its next sweep (jobs/graph/dependencies.py looks at its parents
--                 again then: a release lost to a crash costs one sweep interval, nothing more)
-- and in each parent's slot:
--   children:{id} set of the jobs waiting for it (of any queue)
--   parents       set of the queue's jobs that have children (a settle looks further only
--                 for those: queues without dependencies pay one EXISTS per settle call)
-- Releases are idempotent: a parent counts once per child (SREM), so a release sent twice
-- (a retried call, a sweep racing a settle) never releases a child twice.

local function dependencies(P, now, due, definition_ttl)
  -- `parent` is final with `status`: the child stops waiting for it. Returns true when that
  -- was the last one: the child is queued now (ranked by now within its priority).
  local function deps_release(child, parent, status)
    local state = P .. KEY.state .. child
    if redis.call('SREM', P .. KEY.deps .. child, parent) == 0 then return false end
    redis.call('HSET', state, 'p:' .. parent, status)
    if redis.call('HINCRBY', state, 'deps', -1) > 0 then return false end
    redis.call('HDEL', state, 'deps')
    -- It runs now: its state lives as any live job's does (until its settle), not by the
    -- waiting TTL enqueue.lua gave it.
    redis.call('PERSIST', state)
    redis.call('ZREM', P .. KEY.waiting, child)
    local priority = redis.call('HGET', P .. KEY.priorities, child)
    -- A job with a fair key goes through the due set to its lane (claim.lua, fair.lua).
    if priority and redis.call('HEXISTS', P .. KEY.fair, child) == 0 then
      redis.call('ZADD', P .. KEY.ready .. priority, now, child)
      redis.call('ZADD', P .. KEY.levels, priority, priority)
    else
      redis.call('ZADD', due, now, child)
    end
    redis.call('PEXPIRE', P .. KEY.job .. child, definition_ttl)
    if redis.call('LPUSH', P .. KEY.wake, '1') > 16 then
      redis.call('LTRIM', P .. KEY.wake, 0, 15)
    end
    return true
  end

  -- `parent` (a job of this queue) is final: release its children here, those of this queue
  -- at once; returns the others as {child, parent, status, ...} for the caller to release in
  -- their own slots (release.lua), and the ids released here.
  local function deps_parent_final(parent, status, relay, released)
    if redis.call('SREM', P .. KEY.parents, parent) == 0 then return end
    local key = P .. KEY.children .. parent
    local children = redis.call('SMEMBERS', key)
    redis.call('DEL', key)
    for _, child in ipairs(children) do
      local queue = string.match(child, '@([^@]+)$') or KEY.DEFAULT_QUEUE
      if KEY.PREFIX_OPEN .. queue .. KEY.PREFIX_CLOSE == P then
        if deps_release(child, parent, status) then released[#released + 1] = child end
      else
        relay[#relay + 1] = child
        relay[#relay + 1] = parent
        relay[#relay + 1] = status
      end
    end
  end

  return {release = deps_release, parent_final = deps_parent_final}
end
