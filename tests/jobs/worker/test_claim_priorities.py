"""Priorities within a queue: lower first, FIFO within one, kept by deferred and retried jobs.

Start order is observable with one job at a time (`worker_concurrency=1, claim_batch=1`):
every `record_start` try appends its label to a Redis list as it starts.
"""

import pytest

from jobs.enqueue.plan import MAX_PRIORITY, InvalidPriority
from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.layout.connection import RedisClient, server_ms
from jobs.reading.job_record import JobStatus, load_job
from settings import Settings
from tests.support.waiting import eventually
from tests.support.workers import RunWorker, starts

ONE_AT_A_TIME = {"worker_concurrency": 1, "claim_batch": 1}
MAX = {"record_start": 3}


async def _record(redis: RedisClient, settings: Settings, label: str, **options: object) -> str:
    enqueued = await enqueue(
        redis,
        "record_start",
        {"label": label},
        settings=settings,
        **options,  # type: ignore[arg-type]
    )
    return enqueued.job_id


async def _until_due(redis: RedisClient, due_ms: int) -> None:
    """Wait (on a condition, not a fixed sleep) until the server's clock passes `due_ms`."""

    async def due() -> bool:
        return await server_ms(redis) > due_ms

    await eventually(due)


async def test_mixed_priorities_run_lowest_first_and_fifo_within_one(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    plan = [("a", 3), ("b", 1), ("c", 2), ("d", 1), ("e", 0), ("f", 3), ("g", 2)]
    plan += [("h", MAX_PRIORITY), ("i", 1), ("j", 2)]
    for label, priority in plan:
        await _record(redis, settings, label, priority=priority)
    await run_worker(**ONE_AT_A_TIME)
    expected = [label for label, _ in sorted(plan, key=lambda p: p[1])]  # stable: FIFO
    assert await starts(redis) == expected == ["e", "b", "d", "i", "c", "g", "j", "a", "f", "h"]


@pytest.mark.parametrize(
    "priority",
    [
        pytest.param(
            0,
        ),
        7,
    ],
)
async def test_jobs_of_one_priority_enqueued_together_run_in_input_order(
    redis: RedisClient, settings: Settings, run_worker: RunWorker, priority: int
) -> None:
    labels = [f"job-{n:02}" for n in range(20)]
    await enqueue_many(
        redis, "record_start", [{"label": x} for x in labels], priority=priority, settings=settings
    )
    await run_worker(**ONE_AT_A_TIME)
    assert await starts(redis) == labels


async def test_deferred_job_keeps_its_priority_when_it_comes_due(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    deferred = await enqueue(
        redis, "record_start", {"label": "deferred"}, priority=5, defer_by=0.05, settings=settings
    )
    record = await load_job(redis, deferred.job_id, MAX)
    assert record is not None and record.status is JobStatus.deferred and record.priority == 5
    await _record(redis, settings, "after", priority=6)
    await _record(redis, settings, "before", priority=4)
    await _until_due(redis, deferred.scheduled_ms)
    await run_worker(**ONE_AT_A_TIME)
    assert await starts(redis) == ["before", "deferred", "after"]


async def test_deferred_jobs_that_came_due_run_by_priority_not_by_due_time(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    await _record(redis, settings, "p9 due first", priority=9, defer_by=0.05)
    later = await enqueue(
        redis,
        "record_start",
        {"label": "p1 due later"},
        priority=1,
        defer_by=0.1,
        settings=settings,
    )
    await _until_due(redis, later.scheduled_ms)
    await run_worker(**ONE_AT_A_TIME)
    assert await starts(redis) == ["p1 due later", "p9 due first"]


async def test_priority_zero_job_runs_before_a_prioritised_one_that_came_due_earlier(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    deferred = await enqueue(
        redis, "record_start", {"label": "p5"}, priority=5, defer_by=0.05, settings=settings
    )
    await _until_due(redis, deferred.scheduled_ms)
    await _record(redis, settings, "p0")
    await run_worker(**ONE_AT_A_TIME)
    assert await starts(redis) == ["p0", "p5"]


async def test_deferred_job_ranks_by_its_due_time_within_its_priority(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    deferred = await enqueue(
        redis, "record_start", {"label": "due first"}, priority=5, defer_by=0.05, settings=settings
    )
    await _until_due(redis, deferred.scheduled_ms)
    await _record(redis, settings, "enqueued after", priority=5)
    await run_worker(**ONE_AT_A_TIME)
    assert await starts(redis) == ["due first", "enqueued after"]


async def test_retried_job_keeps_its_priority(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    retried = await enqueue(
        redis,
        "record_start",
        {"label": "retried", "retry_first_s": 0.3},
        priority=5,
        settings=settings,
    )
    # The first try asks for a retry in 0.3 s; a burst worker polling every 50 ms stops.
    await run_worker(**ONE_AT_A_TIME, poll_fallback_s=0.05)
    waiting = await load_job(redis, retried.job_id, MAX)
    assert waiting is not None and waiting.status is JobStatus.deferred
    assert waiting.priority == 5 and waiting.tries == 1 and waiting.error is not None
    assert waiting.scheduled_for is not None
    await _record(redis, settings, "p9", priority=9)
    await _record(redis, settings, "p1", priority=1)
    await _until_due(redis, int(waiting.scheduled_for.timestamp() * 1000))
    await run_worker(**ONE_AT_A_TIME)
    assert await starts(redis) == ["retried", "p1", "retried", "p9"]
    done = await load_job(redis, retried.job_id, MAX)
    assert done is not None and done.status is JobStatus.complete
    assert done.priority == 5 and done.tries == 2


@pytest.mark.parametrize("priority", [-1, MAX_PRIORITY + 1, 2**53])
async def test_priority_out_of_range_raises_and_enqueues_nothing(
    redis: RedisClient, settings: Settings, priority: int
) -> None:
    with pytest.raises(InvalidPriority):
        await enqueue(redis, "ping", {}, priority=priority, settings=settings)
    with pytest.raises(InvalidPriority):
        await enqueue_many(redis, "ping", [{}, {}], priority=priority, settings=settings)
    assert await redis.dbsize() == 0


async def test_bounds_of_the_priority_range_are_accepted(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    last = await enqueue(
        redis, "record_start", {"label": "last"}, priority=MAX_PRIORITY, settings=settings
    )
    first = await enqueue(redis, "record_start", {"label": "first"}, priority=0, settings=settings)
    for enqueued, priority in ((first, 0), (last, MAX_PRIORITY)):
        record = await load_job(redis, enqueued.job_id, MAX)
        assert record is not None and record.status is JobStatus.queued
        assert record.priority == priority
    await run_worker(**ONE_AT_A_TIME)
    assert await starts(redis) == ["first", "last"]
