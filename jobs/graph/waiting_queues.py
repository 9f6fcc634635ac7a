"""Which queues have jobs waiting for parents: a global index, so the dependency sweep covers
every such queue, served or not.

Workers used to sweep only the queues they serve, so the waiting jobs of a queue nobody
serves (a typo, a queue given to one `after` enqueue) were never looked at again. Now:
- an enqueue that creates waiting jobs (`after`, a webhook delivery, a workflow) first notes
  their queue in `jobsvc:waiting_queues` (`keys.WAITING_QUEUES`: zset name -> ms until which
  it may hold waiting jobs: now + DEPENDENCY_WAIT_S + a margin for clocks). Noted before the
  write, a crash between the two leaves an entry, never an unnoted waiting job;
- every worker, every half of `DEPENDENCY_SWEEP_S`, sweeps the queues it serves and every
  queue of the index (`sweep_every_queue`); an entry past its time goes (the keys of its
  waiting jobs have expired: they all carry that TTL);
- a queue is swept by one worker per interval: a fence in the queue's own slot (`SET NX PX`,
  `QueueKeys.sweep_fence`) taken by the first; the others skip it. The sweep's steps are
  idempotent anyway: the fence saves the repeated work of N workers, not correctness.
The index is a global key touched by no script; each fence is in its queue's slot, so every
command is single-slot on a Redis Cluster.
"""

import time
from collections.abc import Iterable, Sequence

from jobs.graph import dependencies
from jobs.layout import keys
from jobs.layout.connection import RedisClient, server_ms
from jobs.settings import Settings

CLOCK_MARGIN_MS = 3_600_000
"""Added to an index entry's time: a producer's clock may run behind the server's."""


def waiting_entries(queues: Iterable[str], settings: Settings) -> dict[str, int]:
    """The index entries of `queues` (for `note_waiting`, or a caller's own transaction)."""
    until = int(time.time() * 1000) + settings.dependency_wait_s * 1000 + CLOCK_MARGIN_MS
    return {name: until for name in queues}


async def note_waiting(redis: RedisClient, queues: Iterable[str], settings: Settings) -> None:
    """Name `queues` in the index: they are about to hold waiting jobs."""
    entries = waiting_entries(queues, settings)
    if entries:
        await redis.zadd(keys.WAITING_QUEUES, entries)


async def indexed_queues(redis: RedisClient, now_ms: int) -> list[str]:
    """The queues of the index whose time has not passed (those past it are dropped)."""
    await redis.zremrangebyscore(keys.WAITING_QUEUES, "-inf", now_ms)
    names = await redis.zrangebyscore(keys.WAITING_QUEUES, now_ms, "+inf")
    return [raw.decode() for raw in names]


async def take_turns(
    redis: RedisClient, queues: Sequence[str], owner: str, hold_ms: int
) -> list[str]:
    """The queues whose sweep fence `owner` took now (held `hold_ms`); the others are
    another worker's this interval."""
    valid = [name for name in queues if keys.QUEUE_NAME.fullmatch(name)]
    async with redis.pipeline(transaction=False) as pipe:
        for name in valid:
            pipe.set(keys.queue(name).sweep_fence, owner, nx=True, px=max(1, hold_ms))
        taken = await pipe.execute()
    return [name for name, ok in zip(valid, taken, strict=True) if ok]


async def sweep_every_queue(
    redis: RedisClient, served: Iterable[str], owner: str, settings: Settings
) -> int:
    """One sweep round of a worker: its served queues and every indexed one, each queue by one
    worker per interval. Returns how many waiting jobs were looked at."""
    interval_s = settings.dependency_sweep_s
    indexed = await indexed_queues(redis, await server_ms(redis))
    queues = list(dict.fromkeys([*served, *indexed]))
    # Held a little less than the round's period (half the interval): the holder's next
    # round finds it free again.
    hold_ms = int(interval_s * 1000 / 2 * 0.9)
    mine = await take_turns(redis, queues, owner, hold_ms)
    return await dependencies.sweep(redis, mine, interval_s, wait_s=settings.dependency_wait_s)
