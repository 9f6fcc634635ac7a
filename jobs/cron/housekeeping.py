"""The service's own upkeep, run by cron whatever the application declares (`HOUSEKEEPING`;
`CRON_ENABLED` governs only the application's schedules). Internal: not enqueued over HTTP and
not in `/job-types`; `GET /cron` lists its schedule, which can be paused or run now."""

import time

from jobs.cron.schedules import housekeeping_schedule
from jobs.declare.context import JobContext
from jobs.declare.models import Model
from jobs.declare.registry import job
from jobs.layout import keys
from jobs.reading.queues import queue_names


class Nothing(Model):
    pass


class Cleaned(Model):
    index_removed: int
    failed_removed: int
    aborts_removed: int


@job(max_tries=3, internal=True)
async def cleanup_job_records(ctx: JobContext, payload: Nothing) -> Cleaned:
    """Per queue: drop listing entries and failed-registry entries past their retention (their
    records have expired), and abort requests older than an hour."""
    settings = ctx.settings
    now = int(time.time() * 1000)
    keep_ms = max(settings.result_ttl_s, settings.failed_ttl_s) * 1000
    names = await queue_names(ctx.redis, [settings.queue_name], [])
    async with ctx.redis.pipeline(transaction=False) as pipe:
        for name in names:
            q = keys.queue(name)
            # Listing and failed scores are ms * 1000 (+ position); abort requests plain ms.
            pipe.zremrangebyscore(q.index, 0, (now - keep_ms) * 1000)
            pipe.zremrangebyscore(q.failed, 0, (now - settings.failed_ttl_s * 1000) * 1000)
            pipe.zremrangebyscore(q.abort, 0, now - 3600 * 1000)
        removed = await pipe.execute()
    return Cleaned(
        index_removed=sum(removed[0::3]),
        failed_removed=sum(removed[1::3]),
        aborts_removed=sum(removed[2::3]),
    )


housekeeping_schedule("cleanup_job_records", "5,35 * * * *")
