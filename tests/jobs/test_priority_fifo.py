"""FIFO within one priority holds on a queue that has seen many jobs, not only on a fresh one.

(Any per-queue counter that orders jobs within a millisecond must not wrap inside one call.)
"""

import pytest

from jobs.connection import RedisClient
from jobs.enqueue import BULK_CHUNK, enqueue_many
from settings import Settings
from tests.conftest import RunWorker
from tests.helpers.workers import new_queue, starts

EARLIER = 8 * BULK_CHUNK + 90
"""Jobs the queue saw before (deferred for good): 4,090, just short of 4,096 = 2**12."""


@pytest.mark.parametrize(
    "priority",
    [
        0,
        7,
    ],
)
async def test_fifo_within_one_priority_holds_after_thousands_of_enqueues(
    redis: RedisClient, settings: Settings, run_worker: RunWorker, priority: int
) -> None:
    name = new_queue()
    await enqueue_many(
        redis,
        "ping",
        [{}] * EARLIER,
        queue=name,
        defer_by=3600,
        priority=priority,
        settings=settings,
    )
    labels = [f"job-{n:02}" for n in range(20)]
    payloads = [{"label": label} for label in labels]
    await enqueue_many(
        redis, "record_start", payloads, queue=name, priority=priority, settings=settings
    )
    await run_worker(worker_queues=name, worker_concurrency=1, claim_batch=1)
    assert await starts(redis) == labels
