"""The failed registry, in bulk: retry every failed job (of one type), or purge them.

A retried job is a new job with the same input, queue and priority; the failed one leaves the
registry (so a second "retry all" does not run it twice) but stays readable by id until its
record expires. A purge deletes the records and their registry entries.
"""

from dataclasses import dataclass

from pydantic import ValidationError

from jobs.declare.registry import JobSpec
from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobRecord, JobStatus
from jobs.reading.listing import JobFilter, list_jobs
from jobs.settings import Settings

MAX_AT_ONCE = 10_000
"""One call handles at most this many failed jobs (call again for more)."""


@dataclass(frozen=True, slots=True)
class Handled:
    count: int
    skipped: int = 0
    """Failed jobs of a type no longer declared, or whose stored input no longer fits its
    model (retry only): left in the registry, for a fix and another retry."""


async def failed_records(
    redis: RedisClient, queues: list[str], name: str | None, legacy: bool
) -> list[JobRecord]:
    found: list[JobRecord] = []
    cursor = None
    while len(found) < MAX_AT_ONCE:
        page = await list_jobs(
            redis,
            queues,
            {},
            where=JobFilter(frozenset({JobStatus.failed}), name),
            limit=200,
            cursor=cursor,
            legacy=legacy,
        )
        found += page.jobs
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return found[:MAX_AT_ONCE]


async def retry_all(
    redis: RedisClient,
    records: list[JobRecord],
    catalog: dict[str, JobSpec],
    settings: Settings,
) -> Handled:
    retried = skipped = 0
    for record in records:
        spec = catalog.get(record.name)
        if spec is None:
            skipped += 1
            continue
        try:
            payload = spec.input_model.model_validate(record.input)
        except ValidationError:
            skipped += 1
            continue
        await enqueue(
            redis, spec, payload, queue=record.queue, priority=record.priority, settings=settings
        )
        await redis.zrem(keys.of_job(record.id).failed, record.id)
        retried += 1
    return Handled(retried, skipped)


async def purge(redis: RedisClient, records: list[JobRecord]) -> Handled:
    async with redis.pipeline(transaction=False) as pipe:
        for record in records:
            q = keys.of_job(record.id)
            pipe.delete(q.result(record.id))
            pipe.zrem(q.failed, record.id)
            pipe.zrem(q.index, record.id)
        await pipe.execute()
    return Handled(len(records))
