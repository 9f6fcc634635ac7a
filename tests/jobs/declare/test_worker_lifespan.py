"""Worker lifespans: resources opened before the first job, shared by jobs, closed at stop."""

from jobs.enqueue.submit import enqueue
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import load_job
from settings import Settings
from tests.support.jobs.sample_jobs import LIFESPAN_EVENTS
from tests.support.workers import RunWorker


async def test_jobs_share_the_resource_a_worker_lifespan_opened(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    LIFESPAN_EVENTS.clear()
    ids = [
        (await enqueue(redis, "count_with_shared_resource", {}, settings=settings)).job_id
        for _ in range(3)
    ]
    await run_worker()
    numbers = sorted([(await load_job(redis, i, {})).result["n"] for i in ids])  # type: ignore[union-attr]
    assert numbers == [1, 2, 3]  # one counter for the whole worker
    assert LIFESPAN_EVENTS == ["open", "close"]
