"""The cron scheduler: runs every declared schedule; a tick is enqueued once whoever claims it."""

import asyncio
import contextlib
from datetime import UTC, datetime

from arq.connections import ArqRedis

from jobs import keys
from jobs.cron import SCHEDULES, Schedule
from jobs.registry import load_catalog
from jobs.scheduler import claim_and_enqueue, run_schedules
from settings import Settings
from tests.conftest import eventually


async def test_tick_is_enqueued_once_however_many_claim_it(
    redis: ArqRedis, settings: Settings
) -> None:
    catalog = load_catalog(settings)
    tick = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    schedule = Schedule("ping", minute=None)
    claims = await asyncio.gather(
        *(claim_and_enqueue(redis, schedule, catalog["ping"], tick, settings) for _ in range(5))
    )
    assert sorted(claims) == [False, False, False, False, True]
    assert await redis.zrange("arq:queue", 0, -1) == [b"cron:ping:1893499200000"]


async def test_scheduler_runs_alongside_the_shipped_schedules(
    redis: ArqRedis, settings: Settings
) -> None:
    catalog = load_catalog(settings)
    # The shipped ones include set fields (minute={5, 35}); an every-second one comes first.
    schedules = [s for s in SCHEDULES if s.job in catalog] + [Schedule("ping", second=None)]
    task = asyncio.create_task(run_schedules(redis, schedules, catalog, settings))

    async def ticked() -> bool:
        assert not task.done(), task.exception()
        return any(m.startswith(b"cron:ping:") for m in await redis.zrange(keys.INDEX, 0, -1))

    try:
        await eventually(ticked, timeout_s=5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
