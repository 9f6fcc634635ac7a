"""Housekeeping jobs (`jobs.tasks.maintenance`): `cleanup_job_records` drops only the index,
failed-registry and abort entries past their retention; `heartbeat_report` counts live workers
and queued jobs."""

import time

from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_job
from settings import Settings
from tests.support.workers import RunWorker, worker_in_background

DAY_MS = 86_400_000


async def test_cleanup_drops_only_entries_past_their_retention(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    q = keys.queue(settings.queue_name)
    now = int(time.time() * 1000)
    keep_ms = max(settings.result_ttl_s, settings.failed_ttl_s) * 1000
    failed_ms = settings.failed_ttl_s * 1000
    # (an enqueue trims the listing index too: the stale entries come after it)
    cleanup = await enqueue(redis, "cleanup_job_records", {}, settings=settings)
    # Listing and failed scores are ms * 1000 (+ position); abort requests plain ms.
    await redis.zadd(q.index, {"stale": (now - keep_ms - DAY_MS) * 1000, "fresh": now * 1000})
    await redis.zadd(q.failed, {"stale": (now - failed_ms - DAY_MS) * 1000, "fresh": now * 1000})
    await redis.zadd(q.abort, {"stale": now - 2 * 3600 * 1000, "fresh": now})
    await run_worker()
    record = await load_job(redis, cleanup.job_id, {})
    assert record is not None and record.status is JobStatus.complete, record
    assert record.result == {"index_removed": 1, "failed_removed": 1, "aborts_removed": 1}
    assert await redis.zscore(q.failed, "fresh") is not None
    assert await redis.zrange(q.abort, 0, -1) == [b"fresh"]
    index = {m.decode() for m in await redis.zrange(q.index, 0, -1)}
    assert "stale" not in index and {"fresh", cleanup.job_id} <= index


async def test_heartbeat_report_counts_live_workers_and_queued_jobs(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    async with worker_in_background(settings, redis, worker_queues="elsewhere"):
        report = await enqueue(redis, "heartbeat_report", {}, settings=settings)
        for n in range(3):
            await enqueue(redis, "ping", {"message": str(n)}, settings=settings, defer_by=3600)
        await run_worker()  # this one counts too while it runs the report
    record = await load_job(redis, report.job_id, {})
    assert record is not None and record.status is JobStatus.complete, record
    # Queued: the three deferred pings, and the report itself, whose entry in the queue's set
    # holds its lease's end while it runs.
    assert record.result == {"workers": 2, "queued": 4}
