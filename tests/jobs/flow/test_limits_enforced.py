"""Flow control through the scripts, with two workers in this process (the multi-process
proofs are in tests/e2e/test_flow_*.py)."""

import contextlib
import itertools

from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.flow_records import admissions, most_at_once, spans
from tests.support.jobs.flow_jobs import SPANS
from tests.support.waiting import eventually
from tests.support.workers import worker_in_background


async def test_concurrency_limit_holds_across_two_workers(
    redis: RedisClient, settings: Settings
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(
                worker_in_background(settings, redis, worker_concurrency=10)
            )
        await enqueue_many(
            redis,
            "three_at_a_time",
            [{"label": str(i), "hold_s": 0.05} for i in range(20)],
            settings=settings,
        )

        async def all_done() -> bool:
            return await redis.llen(SPANS) == 20  # type: ignore[no-any-return,misc]

        await eventually(all_done)
    assert most_at_once(await spans(redis)) == 3


async def test_rate_limit_spaces_admissions(redis: RedisClient, settings: Settings) -> None:
    async with worker_in_background(settings, redis):
        await enqueue_many(
            redis, "twenty_a_second", [{"label": str(i)} for i in range(10)], settings=settings
        )

        async def all_done() -> bool:
            return await redis.llen(SPANS) == 10  # type: ignore[no-any-return,misc]

        await eventually(all_done)
    # Judged on the admissions the limiter recorded (server µs, flow.lua's `admitted`), not on
    # when the jobs began (that adds each claim's and start's delay, which load stretches and
    # shrinks): GCRA with burst 1 admits one at most every 50 ms on the server's clock, exactly.
    admitted = await admissions(redis)
    assert len(admitted) == 10  # every try ran once, admitted by the limiter
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(admitted)]
    assert min(gaps) >= 50_000, gaps


async def test_unique_returns_the_waiting_job(redis: RedisClient, settings: Settings) -> None:
    first = await enqueue(redis, "unique_by_input", {"label": "a"}, settings=settings)
    again = await enqueue(redis, "unique_by_input", {"label": "a"}, settings=settings)
    other = await enqueue(redis, "unique_by_input", {"label": "b"}, settings=settings)
    assert first.outcome == "created"
    assert (again.outcome, again.job_id) == ("unique", first.job_id)
    assert other.outcome == "created" and other.job_id != first.job_id


async def test_debounce_replaces_the_input(redis: RedisClient, settings: Settings) -> None:
    first = await enqueue(redis, "debounced", {"label": "a", "customer": "c"}, settings=settings)
    second = await enqueue(redis, "debounced", {"label": "b", "customer": "c"}, settings=settings)
    assert second.outcome == "debounced" and second.job_id == first.job_id
    assert second.scheduled_ms >= first.scheduled_ms
    async with worker_in_background(settings, redis):

        async def done() -> bool:
            return await redis.llen(SPANS) == 1  # type: ignore[no-any-return,misc]

        await eventually(done)
    assert [span.label for span in await spans(redis)] == ["b"]
