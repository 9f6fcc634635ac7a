"""FIFO within one priority holds on a queue that has seen many jobs, not only on a fresh one.

(Any per-queue counter that orders jobs within a millisecond must not wrap inside one call.)
"""

from datetime import UTC, datetime

import pytest

from jobs.enqueue.submit import BULK_CHUNK, enqueue, enqueue_many
from jobs.layout.connection import RedisClient, server_ms
from jobs.worker.loop import Worker
from settings import Settings
from tests.support.waiting import eventually
from tests.support.workers import RunWorker, new_queue, starts

EARLIER = 8 * BULK_CHUNK + 90
"""Jobs the queue saw before (deferred for good): 4,090, just short of 4,096 = 2**12."""


@pytest.mark.parametrize("priority", [0, 7])
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


@pytest.mark.parametrize("priority", [0, 7])
async def test_jobs_deferred_to_the_same_instant_run_in_enqueue_order(
    redis: RedisClient, settings: Settings, run_worker: RunWorker, priority: int
) -> None:
    due_ms = await server_ms(redis) + 500
    instant = datetime.fromtimestamp(due_ms / 1000, UTC)
    labels = [f"job-{n:02}" for n in range(10)]
    for label in labels:  # one call each, each in a millisecond of its own
        enqueued = await enqueue(
            redis,
            "record_start",
            {"label": label},
            priority=priority,
            defer_until=instant,
            settings=settings,
        )

        async def next_ms(after: int = enqueued.enqueued_ms) -> bool:
            return await server_ms(redis) > after

        await eventually(next_ms)

    async def due() -> bool:
        return await server_ms(redis) > due_ms

    await eventually(due)
    await run_worker(worker_concurrency=1, claim_batch=1)
    assert await starts(redis) == labels


async def test_jobs_enqueued_in_the_claims_own_millisecond_are_due(
    redis: RedisClient, settings: Settings
) -> None:
    """A score is its due ms plus its place within that ms; a claim in that same ms takes all.

    Two jobs enqueued in one call share a millisecond (scores T and T + 1/4096); a claim sent
    right behind them often runs within that millisecond and must see both as due.
    """
    claimer = Worker(settings, burst=True, handle_signals=False)._claimer
    for _ in range(20):
        await enqueue_many(redis, "ping", [{}, {}], settings=settings)
        claims = await claimer.claim(2)
        assert len(claims.jobs) == 2, claims
