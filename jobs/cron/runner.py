"""Runs the cron schedules in a worker (safe with any number of workers), and what operators
do to them: pause, resume, run now, and read their state."""

import asyncio
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from opentelemetry.trace import SpanKind
from redis.exceptions import RedisError

from jobs import tracing
from jobs.cron import stored
from jobs.cron.schedules import InvalidSchedule, Schedule
from jobs.declare.registry import JobSpec
from jobs.enqueue.submit import Enqueued, enqueue, enqueue_cron_tick
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import load_job
from jobs.settings import Settings

logger = logging.getLogger("jobs.cron")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


RELOAD_S = 1.0
"""How often a worker looks for schedules changed over the API (one HGET)."""


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
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hset(keys.CRON_LAST, schedule.key, str(_ms(tick)))
        pipe.hset(keys.CRON_LAST_JOB, schedule.key, enqueued.job_id)
        await pipe.execute()
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


class _Table:
    """The schedules one worker runs and the next tick of each: those declared in code, and
    (unless `CRON_ENABLED=false`) those made over the API, reloaded when their version moves."""

    def __init__(self, code: list[Schedule], catalog: dict[str, JobSpec], stored: bool) -> None:
        self.code = {s.key: s for s in code}
        self.catalog = catalog
        self.stored = stored
        self.active: dict[str, Schedule] = dict(self.code)
        self.raw: dict[str, bytes] = {}
        """An API schedule's JSON as loaded: compared with Redis before each of its ticks."""
        self.upcoming: dict[str, datetime] = {}
        self.version: bytes | None = None
        self.refused: set[tuple[str, bytes]] = set()
        """API schedules this worker cannot run (a job it does not know): logged once."""

    async def reload(self, redis: RedisClient, now: datetime) -> list[Schedule]:
        """Take in changed API schedules; the new or changed ones (to catch up)."""
        current = await stored.version(redis)
        if current == self.version:
            return []
        self.version = current
        _, found = await stored.load_all(redis)
        changed = []
        for name in [n for n in self.raw if n not in found]:
            del self.active[name], self.raw[name], self.upcoming[name]
            logger.info("cron: schedule removed", extra={"schedule": name})
        for name, (raw, definition) in found.items():
            if self.raw.get(name) == raw:
                continue
            schedule = self._runnable(name, raw, definition)
            if schedule is None:
                if name in self.raw:
                    del self.active[name], self.raw[name], self.upcoming[name]
                continue
            self.active[name], self.raw[name] = schedule, raw
            self.upcoming[name] = schedule.next_after(now)
            changed.append(schedule)
            logger.info("cron: schedule loaded", extra={"schedule": name})
        return changed

    def _runnable(
        self, name: str, raw: bytes, definition: stored.StoredSchedule
    ) -> Schedule | None:
        problem = None
        if name in self.code:
            problem = "a schedule in code has that name"
        elif definition.job not in self.catalog or self.catalog[definition.job].internal:
            problem = f"this worker has no job {definition.job!r} (an older release?)"
        else:
            try:
                return definition.schedule(name)
            except InvalidSchedule as exc:
                problem = str(exc)
        if (name, raw) not in self.refused:
            self.refused.add((name, raw))
            logger.warning("cron: schedule %r not run here: %s", name, problem)
        return None


async def run_schedules(
    redis: RedisClient,
    schedules: list[Schedule],
    catalog: dict[str, JobSpec],
    settings: Settings,
    *,
    stored_schedules: bool = True,
) -> None:
    """Forever: at each schedule's next tick, claim it (unless paused or overlapping); with
    `stored_schedules`, also run those made over the API, looking for changes every second."""
    table = _Table(schedules, catalog, stored_schedules)
    now = datetime.now(UTC)
    try:
        await catch_up(redis, schedules, catalog, settings, now)
    except RedisError as exc:
        logger.warning("cron: could not look for missed ticks: %s", exc)
    table.upcoming = {key: s.next_after(now) for key, s in table.active.items()}
    while table.upcoming or stored_schedules:
        now = datetime.now(UTC)
        if stored_schedules:
            try:
                changed = await table.reload(redis, now)
                await catch_up(redis, changed, catalog, settings, now)
            except RedisError as exc:
                logger.warning("cron: could not read the stored schedules: %s", exc)
        for key in sorted(
            (k for k, t in table.upcoming.items() if t <= now), key=lambda k: table.upcoming[k]
        ):
            schedule, tick = table.active[key], table.upcoming[key]
            try:
                await _tick(redis, schedule, table.raw.get(key), catalog, tick, settings)
            except RedisError as exc:
                logger.warning("cron tick %s of %s skipped: %s", tick, key, exc)
            table.upcoming[key] = schedule.next_after(tick)
        next_tick = min(table.upcoming.values(), default=None)
        delay = RELOAD_S if stored_schedules else math.inf
        if next_tick is not None:
            delay = min(delay, (next_tick - datetime.now(UTC)).total_seconds())
        await asyncio.sleep(max(delay, 0))


async def _tick(
    redis: RedisClient,
    schedule: Schedule,
    raw: bytes | None,
    catalog: dict[str, JobSpec],
    tick: datetime,
    settings: Settings,
) -> None:
    if schedule.from_api:
        # Read it again: one deleted, paused or changed since the last reload does not tick.
        if await stored.load_raw(redis, schedule.key) != raw or schedule.paused:
            return
    elif await redis.sismember(keys.CRON_PAUSED, schedule.key):  # type: ignore[misc]
        return
    if schedule.overlap == "skip" and await _previous_not_final(redis, schedule):
        logger.info(
            "cron tick skipped: the previous run is not final", extra={"schedule": schedule.key}
        )
        return
    await claim_and_enqueue(redis, schedule, catalog[schedule.job], tick, settings)


async def _previous_not_final(redis: RedisClient, schedule: Schedule) -> bool:
    job_id = await redis.hget(keys.CRON_LAST_JOB, schedule.key)  # type: ignore[misc]
    if job_id is None:
        return False
    record = await load_job(redis, job_id.decode(), {})
    return record is not None and not record.status.is_final


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
