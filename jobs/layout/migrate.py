"""Deploying over data of the ARQ single-queue layout (before queues were first-class).

Then a queue named `emails` was the sorted set `emails`, and every job's definition sat at
`arq:job:{id}` with a bare id. The default queue needs nothing: its sorted set is still
`arq:queue` and the worker and API read `arq:job:{id}` / `arq:result:{id}` too (`legacy`).
Jobs waiting on another queue are moved onto that queue's keys at worker start, each by one
script call, under a new id that names the queue (`{old id}@{queue}`): the old id stops
answering, the job is not lost. A job running under that layout is left to its old worker.
"""

import logging

from redis.exceptions import ResponseError

from jobs.layout import keys, scripts
from jobs.layout.connection import RedisClient

logger = logging.getLogger("jobs.worker")


async def migrate_queue(redis: RedisClient, name: str) -> int:
    """Move `name`'s jobs from the ARQ single-queue layout; how many were moved."""
    q = keys.queue(name)
    if name == keys.DEFAULT_QUEUE or await redis.type(name) != b"zset":
        return 0
    moved = 0
    script = scripts.script("migrate")
    try:
        for member in await redis.zrange(name, 0, -1):
            old = member.decode()
            new = keys.job_id_for(name, old)
            moved += await script(redis, [name, q.due, q.index], [q.prefix, old, new])
    except ResponseError as exc:  # e.g. CROSSSLOT: a cluster never had that layout
        logger.warning("could not migrate queue %s from the ARQ single-queue layout: %s", name, exc)
    if moved:
        logger.info("moved %d jobs of queue %s from the ARQ single-queue layout", moved, name)
    return moved
