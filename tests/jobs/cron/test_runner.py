"""The cron scheduler: runs every declared schedule; a tick is enqueued once whoever claims it."""

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import pytest

from jobs.cron import stored
from jobs.cron.runner import catch_up, claim_and_enqueue, run_schedules
from jobs.cron.schedules import SCHEDULES, Schedule, UnknownScheduledJob, schedule
from jobs.declare.registry import load_catalog
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import load_job
from jobs.worker.loop import Worker
from settings import Settings
from tests.support.waiting import eventually

TICK = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0)
"""A minute's tick a day ahead: an enqueue takes no date more than 365 days away."""
TICK_MS = int(TICK.timestamp() * 1000)


async def test_tick_is_enqueued_once_however_many_claim_it(
    redis: RedisClient, settings: Settings
) -> None:
    catalog = load_catalog(settings)
    tick = TICK
    schedule = Schedule("ping", "* * * * *")
    claims = await asyncio.gather(
        *(claim_and_enqueue(redis, schedule, catalog["ping"], tick, settings) for _ in range(5))
    )
    assert sorted(claims) == [False, False, False, False, True]
    assert await redis.zrange("arq:queue", 0, -1) == [f"cron:ping:{TICK_MS}".encode()]


async def test_scheduler_runs_alongside_the_shipped_schedules(
    redis: RedisClient, settings: Settings
) -> None:
    catalog = load_catalog(settings)
    # The shipped ones include set fields (minute={5, 35}); an every-second one comes first.
    schedules = [s for s in SCHEDULES if s.job in catalog] + [Schedule("ping", "* * * * * *")]
    task = asyncio.create_task(run_schedules(redis, schedules, catalog, settings))

    async def ticked() -> bool:
        assert not task.done(), task.exception()
        return any(
            m.startswith(b"cron:ping:")
            for m in await redis.zrange(keys.queue("arq:queue").index, 0, -1)
        )

    try:
        await eventually(ticked, timeout_s=5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_two_schedules_of_one_job_in_the_same_second_are_two_ticks(
    redis: RedisClient, settings: Settings
) -> None:
    catalog = load_catalog(settings)
    tick = TICK
    first = schedule("ping", "* * * * *", payload={"message": "a"})
    second = schedule("ping", "* * * * *", payload={"message": "b"})
    try:
        assert (first.key, second.key) == ("ping", "ping.2")
        for s in (first, second):
            assert await claim_and_enqueue(redis, s, catalog["ping"], tick, settings)
            assert not await claim_and_enqueue(redis, s, catalog["ping"], tick, settings)
    finally:
        SCHEDULES.remove(first)
        SCHEDULES.remove(second)
    queued = sorted(m.decode() for m in await redis.zrange("arq:queue", 0, -1))
    assert queued == [f"cron:ping.2:{TICK_MS}", f"cron:ping:{TICK_MS}"]


def test_a_schedule_naming_an_undeclared_job_stops_the_worker_at_start(
    settings: Settings,
) -> None:
    typo = schedule("heartbeat_reprot", "* * * * *")
    try:
        with pytest.raises(UnknownScheduledJob, match="heartbeat_reprot"):
            Worker(settings, burst=True, handle_signals=False)
    finally:
        SCHEDULES.remove(typo)


async def test_a_missed_tick_runs_once_when_a_worker_comes_back(
    redis: RedisClient, settings: Settings
) -> None:
    catalog = load_catalog(settings)
    now = TICK + timedelta(seconds=30)
    catching_up = Schedule("ping", "* * * * *", name="ping.catch-up", missed="run_once")
    skipping = Schedule("ping", "* * * * *", name="ping.skip")
    for s in (catching_up, skipping):  # both last ran three minutes before
        await redis.hset(keys.CRON_LAST, s.key, str(int(now.timestamp() * 1000) - 180_000))  # type: ignore[misc]
    await catch_up(redis, [catching_up, skipping], catalog, settings, now)
    ids = [m.decode() for m in await redis.zrange("arq:queue", 0, -1)]
    assert ids == [f"cron:ping.catch-up:{TICK_MS}"]  # TICK, the latest missed tick, once


async def test_a_schedule_changed_while_its_tick_is_enqueued_enqueues_that_tick_once(
    redis: RedisClient, settings: Settings
) -> None:
    """A worker holding the schedule as it was and one holding it as changed over the API both
    reach the same tick: one job for it, from whichever claimed it first."""
    catalog = load_catalog(settings)
    definition = stored.ScheduleDefinition(job="ping", input={"message": "before"}, every=60)
    before, _ = await stored.put(redis, "report", definition)
    changed = definition.model_copy(update={"input": {"message": "after"}})
    after, _ = await stored.put(redis, "report", changed)
    assert (before.revision, after.revision) == (1, 2)
    spec = catalog["ping"]
    claims = await asyncio.gather(
        claim_and_enqueue(redis, before.schedule("report"), spec, TICK, settings),
        claim_and_enqueue(redis, after.schedule("report"), spec, TICK, settings),
    )
    assert sorted(claims) == [False, True]
    [job_id] = await redis.zrange("arq:queue", 0, -1)
    record = await load_job(redis, job_id.decode(), {})
    assert record is not None and record.input["message"] in ("before", "after")
