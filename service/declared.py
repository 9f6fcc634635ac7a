"""The queues this web process knows, the truth every request is checked against.

They are the ones its own catalog and settings declare (`jobs.declare.queues`: job
declarations, `QUEUES`, `WORKER_QUEUES`, `QUEUE_NAME`), plus, for reading and pausing, a queue
the registry names (declared by another release during a rolling deploy). A name that is
neither gets a 404 (or, on enqueue, a 422) before any of its keys is read or written.
"""

from collections.abc import Mapping

from jobs.declare import queues as declared
from jobs.declare.registry import JobSpec
from jobs.layout.connection import RedisClient
from jobs.layout.ids import queue_of
from jobs.reading import queues
from jobs.settings import Settings
from service.errors import QueueNotFound


def declared_queues(catalog: Mapping[str, JobSpec], settings: Settings) -> frozenset[str]:
    return declared.declared_queues(settings, (spec.queue for spec in catalog.values()))


async def known_queue(
    name: str, redis: RedisClient, catalog: Mapping[str, JobSpec], settings: Settings
) -> str:
    """`name` if known, else `QueueNotFound` (404) naming the declared ones."""
    known = declared_queues(catalog, settings)
    if not await queues.is_known(redis, name, known):
        raise QueueNotFound(
            f"no queue named {name!r} is declared: declare it with @job(queue=...) or QUEUES",
            {"queue": name, "known": sorted(known)},
        )
    return name


async def names_known_queue(
    redis: RedisClient, catalog: Mapping[str, JobSpec], settings: Settings, job_id: str
) -> bool:
    """Whether a job id's queue (`id@queue`) is known: an id on any other names no job."""
    return await queues.is_known(redis, queue_of(job_id), declared_queues(catalog, settings))
