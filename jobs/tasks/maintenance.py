"""Housekeeping jobs run by cron (see `jobs/cron/schedules.py`)."""

import time

from jobs.declare.context import JobContext
from jobs.declare.models import Model
from jobs.declare.registry import job
from jobs.layout import keys
from jobs.reading.queues import queue_names
from jobs.worker import heartbeat


class Nothing(Model):
    pass


class Cleaned(Model):
    index_removed: int
    failed_removed: int
    aborts_removed: int


@job(max_tries=3)
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


class HeartbeatReport(Model):
    workers: int
    queued: int


@job(max_tries=1)
async def heartbeat_report(ctx: JobContext, payload: Nothing) -> HeartbeatReport:
    """A once-a-minute record of live workers and queue depth (proves cron runs)."""
    workers = await heartbeat.live_workers(ctx.redis)
    queued = await ctx.redis.zcard(keys.queue(ctx.settings.queue_name).due)
    return HeartbeatReport(workers=len(workers), queued=queued)
