"""Housekeeping jobs run by cron (see `jobs/cron.py`)."""

import time

from pydantic import BaseModel

from jobs import heartbeat, keys
from jobs.context import JobContext
from jobs.registry import job


class Nothing(BaseModel):
    pass


class Cleaned(BaseModel):
    index_removed: int
    failed_removed: int
    aborts_removed: int


@job(max_tries=3)
async def cleanup_job_records(ctx: JobContext, payload: Nothing) -> Cleaned:
    """Drop listing entries of jobs whose records have expired, and stale abort requests."""
    settings = ctx.settings
    now_ms = int(time.time() * 1000)
    keep_ms = max(settings.result_ttl_s, settings.failed_ttl_s) * 1000
    async with ctx.redis.pipeline(transaction=False) as pipe:
        pipe.zremrangebyscore(keys.INDEX, 0, now_ms - keep_ms)
        pipe.zremrangebyscore(keys.FAILED, 0, now_ms - settings.failed_ttl_s * 1000)
        pipe.zremrangebyscore(keys.ABORT, 0, now_ms - 3600 * 1000)
        index_removed, failed_removed, aborts_removed = await pipe.execute()
    return Cleaned(
        index_removed=index_removed, failed_removed=failed_removed, aborts_removed=aborts_removed
    )


class HeartbeatReport(BaseModel):
    workers: int
    queued: int


@job(max_tries=1)
async def heartbeat_report(ctx: JobContext, payload: Nothing) -> HeartbeatReport:
    """A once-a-minute record of live workers and queue depth (proves cron runs)."""
    workers = await heartbeat.live_workers(ctx.redis)
    queued = await ctx.redis.zcard(ctx.settings.queue_name)
    return HeartbeatReport(workers=len(workers), queued=queued)
