"""Fair shares: weights per fair key, and what waits in the keys' lanes (for `/queues`,
`/metrics`). The scheduling itself is `jobs/layout/lua/includes/fair.lua` (stride scheduling
per queue and priority: a key of weight w is served w times per round).

    @job(fair_key="tenant")            # the input field whose value is the key
    await jobs.enqueue(f, payload, fair_key="acme")   # or per enqueue

Weights are per queue and key value, kept until reset to 1 (a key without a weight has 1).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from jobs.flow.limits import key_text
from jobs.layout import keys
from jobs.layout.connection import RedisClient

MAX_WEIGHT = 1000
"""A weight is 1..MAX_WEIGHT: a key of weight w gets w turns for another key's one."""
MAX_WEIGHTS_LISTED = 1000
"""Weights a listing returns per queue (the hash is scanned no further)."""
MAX_KEYS_COUNTED = 1000
"""Lanes read per queue for its figures: with more keys waiting, `FairBacklog.jobs` counts
the lanes of this many of them (the count of keys is exact)."""


class InvalidWeight(ValueError):
    """A weight outside 1..MAX_WEIGHT."""


async def set_weight(redis: RedisClient, queue: str, key: str, weight: int) -> None:
    """Serve `key`'s jobs on `queue` `weight` times per round (1: the default, stored as none)."""
    if isinstance(weight, bool) or not 1 <= weight <= MAX_WEIGHT:
        raise InvalidWeight(f"weight must be an integer in 1..{MAX_WEIGHT}, not {weight!r}")
    q = keys.queue(queue)
    key = key_text(key)  # as the job's key is stored: a long one by its hash
    if weight == 1:
        await redis.hdel(q.fair_weights, key)  # type: ignore[misc]
    else:
        await redis.hset(q.fair_weights, key, str(weight))  # type: ignore[misc]


async def weights(redis: RedisClient, queue: str) -> dict[str, int]:
    """The weights set on `queue` (keys not listed have 1), up to `MAX_WEIGHTS_LISTED`."""
    out: dict[str, int] = {}
    cursor = 0
    while True:
        cursor, page = await redis.hscan(keys.queue(queue).fair_weights, cursor, count=200)
        for key, value in page.items():
            out[key.decode(errors="replace")] = int(value)
        if not cursor or len(out) >= MAX_WEIGHTS_LISTED:
            return dict(sorted(out.items())[:MAX_WEIGHTS_LISTED])


@dataclass(frozen=True, slots=True)
class FairBacklog:
    """One queue's ready jobs in fair lanes."""

    keys: int = 0
    """Fair keys with ready jobs, over all priorities (plain jobs that take turns count one)."""
    jobs: int = 0
    """Ready jobs in the lanes (see `MAX_KEYS_COUNTED`); plain ones are not counted here."""
    oldest_due: float | None = None


async def fair_backlog(
    redis: RedisClient, names: Iterable[str], levels: dict[str, list[int]]
) -> dict[str, FairBacklog]:
    """Per queue (with the levels it has ready jobs at): its fair keys and their lanes."""
    names = list(names)
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            q = keys.queue(name)
            for level in levels[name]:
                pipe.zcard(q.fair_keys(level))
                pipe.zrange(q.fair_keys(level), 0, MAX_KEYS_COUNTED - 1)
        replies = iter(await pipe.execute())
    lanes: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            q = keys.queue(name)
            counts[name], lanes[name] = 0, []
            for level in levels[name]:
                counts[name] += next(replies)
                for member in next(replies):
                    key = member.decode(errors="replace")
                    if key and len(lanes[name]) < MAX_KEYS_COUNTED:  # '' is the ready set
                        lanes[name].append(key)
                        pipe.zcard(q.lane(level, key))
                        pipe.zrange(q.lane(level, key), 0, 0, withscores=True)
        answers = iter(await pipe.execute())
    out = {}
    for name in names:
        jobs, oldest = 0, None
        for _ in lanes[name]:
            jobs += next(answers)
            first = next(answers)
            if first and (oldest is None or keys.lane_due(first[0][1]) < oldest):
                oldest = keys.lane_due(first[0][1])
        out[name] = FairBacklog(counts[name], jobs, oldest)
    return out
