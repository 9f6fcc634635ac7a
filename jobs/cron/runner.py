"""Runs the cron schedules in a worker (safe with any number of workers), and what operators
do to them: pause, resume, run now, and read their state."""

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from opentelemetry.trace import SpanKind
from redis.exceptions import RedisError

from jobs import tracing
from jobs.cron.schedules import Schedule
from jobs.declare.registry import JobSpec
from jobs.enqueue.submit import Enqueued, enqueue, enqueue_cron_tick
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.settings import Settings

logger = logging.getLogger("jobs.cron")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def claim_and_enqueue(
    redis: RedisClient, schedule: Schedule, spec: JobSpec, tick: datetime, settings: Settings
) -> bool:
    """Enqueue `schedule`'s job for `tick` unless another worker did; True if this one did.
    Each tick is a trace of its own (its job's tries join it)."""
    attributes = {"cron.schedule": schedule.key, "cron.tick": tick.isoformat()}
    with tracing.span("cron tick", attributes, kind=SpanKind.PRODUCER, root=True) as span:
        enqueued = await enqueue_cron_tick(
            redis, spec, schedule.payload, schedule.key, _ms(tick), settings
        )
        if span is not None:
            span.set_attribute("cron.enqueued", enqueued.outcome == "created")
    if enqueued.outcome != "created":
        return False
    await redis.hset(keys.CRON_LAST, schedule.key, str(_ms(tick)))  # type: ignore[misc]
    logger.info("cron tick enqueued", extra={"schedule": schedule.key, "tick": tick.isoformat()})
    return True


async def catch_up(
    redis: RedisClient,
    schedules: list[Schedule],
    catalog: dict[str, JobSpec],
    settings: Settings,
    now: datetime,
) -> None:
    """`missed="run_once"`: if ticks passed since the last one enqueued, enqueue the latest."""
    for s in schedules:
        if s.missed != "run_once":
            continue
        last = await redis.hget(keys.CRON_LAST, s.key)  # type: ignore[misc]
        missed = s.previous_before(now)
        if last is not None and _ms(missed) > int(last):
            logger.info("cron: running a missed tick once", extra={"schedule": s.key})
            await claim_and_enqueue(redis, s, catalog[s.job], missed, settings)


async def run_schedules(
    redis: RedisClient, schedules: list[Schedule], catalog: dict[str, JobSpec], settings: Settings
) -> None:
    """Forever: sleep to the next tick of any schedule, then claim it (unless paused)."""
    now = datetime.now(UTC)
    try:
        await catch_up(redis, schedules, catalog, settings, now)
    except RedisError as exc:
        logger.warning("cron: could not look for missed ticks: %s", exc)
    # Keyed by position: two schedules may share a tick.
    upcoming = {i: s.next_after(now) for i, s in enumerate(schedules)}
    while upcoming:
        i, tick = min(upcoming.items(), key=lambda item: item[1])
        schedule = schedules[i]
        delay = (tick - datetime.now(UTC)).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            if not await redis.sismember(keys.CRON_PAUSED, schedule.key):  # type: ignore[misc]
                await claim_and_enqueue(redis, schedule, catalog[schedule.job], tick, settings)
        except RedisError as exc:
            logger.warning("cron tick %s of %s skipped: %s", tick, schedule.key, exc)
        upcoming[i] = schedule.next_after(tick)


@dataclass(frozen=True, slots=True)
class ScheduleState:
    schedule: Schedule
    paused: bool
    last_run: datetime | None
    next_run: datetime


async def schedule_states(redis: RedisClient, schedules: list[Schedule]) -> list[ScheduleState]:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.smembers(keys.CRON_PAUSED)
        pipe.hgetall(keys.CRON_LAST)
        paused_raw, last_raw = await pipe.execute()
    paused = {p.decode() for p in paused_raw}
    last = {k.decode(): int(v) for k, v in last_raw.items()}
    now = datetime.now(UTC)
    return [
        ScheduleState(
            s,
            s.key in paused,
            datetime.fromtimestamp(last[s.key] / 1000, UTC) if s.key in last else None,
            s.next_after(now),
        )
        for s in schedules
    ]


async def set_paused(redis: RedisClient, schedule: Schedule, paused: bool) -> None:
    if paused:
        await redis.sadd(keys.CRON_PAUSED, schedule.key)  # type: ignore[misc]
    else:
        await redis.srem(keys.CRON_PAUSED, schedule.key)  # type: ignore[misc]


async def run_now(
    redis: RedisClient, schedule: Schedule, spec: JobSpec, settings: Settings
) -> Enqueued:
    """Enqueue the schedule's job now, outside its ticks (paused or not)."""
    enqueued = await enqueue(redis, spec, schedule.payload, settings=settings)
    now_ms = enqueued.enqueued_ms or _ms(datetime.now(UTC))
    await redis.hset(keys.CRON_LAST, schedule.key, str(now_ms))  # type: ignore[misc]
    return enqueued
