"""Runs the cron schedules in a worker; safe with any number of workers."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError

from jobs.connection import RedisClient
from jobs.cron import Schedule
from jobs.enqueue import enqueue_cron_tick
from jobs.registry import JobSpec
from settings import Settings

logger = logging.getLogger("jobs.cron")


async def claim_and_enqueue(
    redis: RedisClient, schedule: Schedule, spec: JobSpec, tick: datetime, settings: Settings
) -> bool:
    """Enqueue `schedule`'s job for `tick` unless another worker did; True if this one did."""
    tick_ms = int(tick.timestamp() * 1000)
    enqueued = await enqueue_cron_tick(
        redis, spec, schedule.payload, schedule.key, tick_ms, settings
    )
    if enqueued.outcome != "created":
        return False
    logger.info("cron tick enqueued", extra={"job": schedule.job, "tick": tick.isoformat()})
    return True


async def run_schedules(
    redis: RedisClient, schedules: list[Schedule], catalog: dict[str, JobSpec], settings: Settings
) -> None:
    """Forever: sleep to the next tick of any schedule, then claim it."""
    now = datetime.now(UTC)
    # Keyed by position: a Schedule with a set field (e.g. minute={5, 35}) is unhashable.
    upcoming = {i: s.next_after(now) for i, s in enumerate(schedules)}
    while upcoming:
        i, tick = min(upcoming.items(), key=lambda item: item[1])
        schedule = schedules[i]
        delay = (tick - datetime.now(UTC)).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await claim_and_enqueue(redis, schedule, catalog[schedule.job], tick, settings)
        except RedisError as exc:
            logger.warning("cron tick %s of %s skipped: %s", tick, schedule.job, exc)
        upcoming[i] = schedule.next_after(tick + timedelta(microseconds=1))


def next_runs(schedules: list[Schedule]) -> dict[str, datetime]:
    now = datetime.now(UTC)
    return {s.key: s.next_after(now) for s in schedules}
