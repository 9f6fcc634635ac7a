-- Fair shares (`@job(fair_key=...)`, `fair_key=` per enqueue): within a queue and a priority,
-- ready jobs of different key values are served in turn. Not a script of its own: enqueue.lua
-- and claim.lua include it (`--@include fair`) and make its functions for the call:
--   local fair = fair_shares(P)
-- then fair.enter(id, level, score, key), fair.serve(level, want), fair.batch().
-- Stride scheduling: each key has a pass; the lowest pass is served next and its pass grows by
-- STRIDE/weight, so a key of weight w gets w turns per round (STRIDE, the least common
-- multiple of 1..16, keeps passes integers, as ranks are, below). A key enters at the current minimum
-- pass: it waits about one round, not the backlog, and cannot starve the others either.
-- Keys, all in the queue's slot (built here from P, as every per-job key is):
--   fair             hash id -> key value: live jobs with a fair key (goes when final)
--   fairkeys:{p}     zset key -> pass: level p's keys with ready jobs (a key whose lane ran
--                    empty is dropped at its next turn)
--   lane:{p}:{key}   zset id -> rank: one key's ready jobs of level p, in due order; key ''
--                    (the level's plain jobs, FIFO among themselves) is `ready:{p}`, scored
--                    by due score. A rank is an integer, (due ms - epoch) * 4096 + the sub-ms
--                    place (keys.LANE_EPOCH_MS): a small sorted set is a listpack, and there
--                    an insert compares the scores of all the entries before it, which costs
--                    a decimal parse each for a fractional score, nothing for an integer.
--   fairw            hash key -> weight (absent: 1)
-- A level with fair keys is noted in `levels` (level 0 too); claim.lua then moves priority-0
-- plain jobs to `ready:0`, so they take turns as key '' instead of going first.

local function fair_shares(P)
  local EPOCH = @LANE_EPOCH_MS@
  local STRIDE = 720720
  local function rank(key, score)
    if key == '' then return score end
    return (tonumber(score) - EPOCH) * 4096
  end

  local function lane(level, key)
    if key == '' then return P .. KEY.ready .. level end
    return P .. KEY.lane .. level .. ':' .. key
  end

  -- The current minimum pass: where a new key enters the round.
  local function join(ring, key)
    if redis.call('ZSCORE', ring, key) then return end
    local first = redis.call('ZRANGE', ring, 0, 0, 'WITHSCORES')
    redis.call('ZADD', ring, first[2] or 0, key)
  end

  -- A ready job of `level` with fair key `key` waits in its key's lane.
  local function fair_enter(id, level, score, key)
    join(P .. KEY.fair_keys .. level, key)
    redis.call('ZADD', lane(level, key), rank(key, score), id)
    redis.call('ZADD', P .. KEY.levels, level, level)
  end

  -- Many jobs entering at once (enqueue.lua): one ZADD per lane, one join per key, one
  -- HSET for their keys; `flush` makes them (and may be called again: it starts over).
  local function fair_batch()
    local lanes, order, keyed = {}, {}, {}
    local function add(id, level, score, key, due_now)
      keyed[#keyed + 1], keyed[#keyed + 2] = id, key
      if not due_now then return end
      local name = lane(level, key)
      local members = lanes[name]
      if not members then
        members = {}
        lanes[name] = members
        order[#order + 1] = {name, level, key}
      end
      members[#members + 1], members[#members + 2] = rank(key, score), id
    end
    local function flush()
      local levels = {}
      for start = 1, #keyed, 1000 do
        redis.call('HSET', P .. KEY.fair, unpack(keyed, start, math.min(start + 999, #keyed)))
      end
      for _, entry in ipairs(order) do
        local name, level, key = entry[1], entry[2], entry[3]
        join(P .. KEY.fair_keys .. level, key)
        local members = lanes[name]
        for start = 1, #members, 1000 do
          redis.call('ZADD', name, unpack(members, start, math.min(start + 999, #members)))
        end
        if not levels[level] then
          levels[level] = true
          redis.call('ZADD', P .. KEY.levels, level, level)
        end
      end
      lanes, order, keyed = {}, {}, {}
    end
    return {add = add, flush = flush}
  end

  -- Take up to `want` ready jobs of `level` in turn: returns {id, due score, ...}. Only the
  -- lowest `want` keys are read (plus one: its pass bounds how far they may go before the
  -- ring is read again), so a claim costs O(log keys) per job taken, whatever the backlog.
  local function fair_serve(level, want)
    local ring = P .. KEY.fair_keys .. level
    if redis.call('EXISTS', P .. KEY.ready .. level) == 1 then join(ring, '') end
    local weighted = redis.call('EXISTS', P .. KEY.fair_weights) == 1
    local got = {}
    while #got < 2 * want do
      local room = want - #got / 2
      local heads = redis.call('ZRANGE', ring, 0, room, 'WITHSCORES')
      if #heads == 0 then break end
      local n, bound = #heads / 2, nil
      if n > room then
        bound = tonumber(heads[#heads])
        n = room
      end
      local names, pass, step = {}, {}, {}
      for i = 1, n do
        names[i], pass[i], step[i] = heads[2 * i - 1], tonumber(heads[2 * i]), STRIDE
      end
      if weighted then
        local w = redis.call('HMGET', P .. KEY.fair_weights, unpack(names))
        for i = 1, n do step[i] = math.floor(STRIDE / (tonumber(w[i]) or 1)) end
      end
      local live, moved, drops = n, {}, {}
      while live > 0 and #got < 2 * want do
        local best = nil
        for i = 1, n do
          if pass[i] and (not best or pass[i] < pass[best]) then best = i end
        end
        if bound and pass[best] > bound then break end  -- others' turn: read the ring again
        local popped = redis.call('ZPOPMIN', lane(level, names[best]))
        if popped[1] then
          local due = popped[2]
          if names[best] ~= '' then due = tonumber(due) / 4096 + EPOCH end
          got[#got + 1], got[#got + 2] = popped[1], due
          pass[best] = pass[best] + step[best]
          moved[best] = true
        else  -- its lane ran empty: it leaves the round
          drops[#drops + 1] = names[best]
          pass[best], moved[best] = nil, nil
          live = live - 1
        end
      end
      local passes = {}
      for i = 1, n do
        if moved[i] then
          passes[#passes + 1], passes[#passes + 2] = pass[i], names[i]
        end
      end
      if #passes > 0 then redis.call('ZADD', ring, unpack(passes)) end
      if #drops > 0 then redis.call('ZREM', ring, unpack(drops)) end
    end
    if redis.call('EXISTS', ring) == 0 then redis.call('ZREM', P .. KEY.levels, level) end
    return got
  end

  return {enter = fair_enter, serve = fair_serve, lane = lane, batch = fair_batch}
end
