"""Deploying over the ARQ single-queue layout: jobs queued or finished under it are not
orphaned."""

import orjson

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_job
from tests.support.workers import RunWorker

MAX = {"ping": 25, "on_emails_queue": 5}


def _old_definition(function: str, queue: str) -> bytes:
    return orjson.dumps({"t": None, "f": function, "a": [{}], "k": {}, "et": 1, "q": queue})


async def test_jobs_queued_under_the_previous_layout_run_and_stay_readable(
    redis: RedisClient, run_worker: RunWorker
) -> None:
    # The default queue: ARQ's layout, unchanged sorted set, definition at arq:job:{id}.
    await redis.set("arq:job:old-default", _old_definition("ping", "arq:queue"))
    await redis.zadd("arq:queue", {"old-default": 1})
    # Another queue: its name was its sorted set.
    await redis.set("arq:job:old-emails", _old_definition("on_emails_queue", "emails"))
    await redis.zadd("emails", {"old-emails": 1})
    # A sorted set that merely shares a queue's name is not ours: left alone.
    await redis.zadd("emails", {"not-a-job": 2})
    # A job finished under the ARQ single-queue layout.
    await redis.set(
        "arq:result:old-done",
        orjson.dumps(
            {"t": 1, "f": "ping", "a": [{}], "s": True, "r": {"ok": 1}, "status": "complete"}
        ),
    )

    view = await load_job(redis, "old-default", MAX, legacy=True)
    assert view is not None and view.status is JobStatus.queued
    done = await load_job(redis, "old-done", MAX, legacy=True)
    assert done is not None and done.status is JobStatus.complete and done.result == {"ok": 1}

    await run_worker()
    await run_worker(worker_queues="emails")

    ran = await load_job(redis, "old-default", MAX, legacy=True)
    assert ran is not None and ran.status is JobStatus.complete
    moved = await load_job(redis, "old-emails@emails", MAX, legacy=True)
    assert moved is not None and moved.status is JobStatus.complete and moved.queue == "emails"
    assert await redis.exists("arq:job:old-default", "arq:job:old-emails") == 0
    assert await redis.zrange("emails", 0, -1) == [b"not-a-job"]
    assert await redis.zcard(keys.queue("emails").due) == 0
