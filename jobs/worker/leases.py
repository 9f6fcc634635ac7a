"""Keeping the leases of running tries: renewing them, and hearing abort requests.

These return what they found; the worker decides what to do about it (cancel the try).
"""

from collections.abc import Iterable

from jobs.layout import scripts
from jobs.layout.connection import RedisClient
from jobs.layout.keys import QueueKeys, of_job
from jobs.worker.attempt import Claimed


def by_queue(running: Iterable[Claimed]) -> dict[QueueKeys, list[Claimed]]:
    grouped: dict[QueueKeys, list[Claimed]] = {}
    for claimed in running:
        grouped.setdefault(of_job(claimed.job_id), []).append(claimed)
    return grouped


async def renew(redis: RedisClient, running: Iterable[Claimed], lease_ms: int) -> list[str]:
    """Extend every lease still held; the ids whose lease is gone (another try's now)."""
    lost: list[str] = []
    for q, tries in by_queue(running).items():
        args: list[str | int] = [q.prefix, lease_ms]
        for claimed in tries:
            args += (claimed.job_id, claimed.token)
        lost += [raw.decode() for raw in await scripts.script("renew")(redis, [q.due], args)]
    return lost


async def abort_requests(redis: RedisClient, running: Iterable[Claimed]) -> list[str]:
    """Ids with an abort request on the queues of the running tries (one read per queue)."""
    requested: list[str] = []
    for q in by_queue(running):
        requested += [raw.decode() for raw in await redis.zrange(q.abort, 0, -1)]
    return requested
