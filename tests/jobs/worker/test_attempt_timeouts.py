"""Timeouts are per job type: a try longer than its job's `timeout` is cut off, others are not."""

from jobs.enqueue.submit import enqueue
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_job
from settings import Settings
from tests.support.workers import RunWorker

MAX = {"ping": 25, "too_slow": 2}


async def test_timeout_cuts_off_only_the_job_type_that_declares_it(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    slow = await enqueue(redis, "too_slow", {"seconds": 0.5}, settings=settings)  # timeout 0.2
    same_length = await enqueue(redis, "ping", {"sleep_s": 0.5}, settings=settings)  # 300 s
    await run_worker()
    cut = await load_job(redis, slow.job_id, MAX)
    assert cut is not None and cut.status is JobStatus.failed
    assert cut.error is not None and cut.error.type == "JobTimeout"
    assert "0.2" in cut.error.message
    ran = await load_job(redis, same_length.job_id, MAX)
    assert ran is not None and ran.status is JobStatus.complete and ran.tries == 1
