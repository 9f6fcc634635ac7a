"""Schedules made at runtime (`PUT /schedules/{name}`, `JobClient.put_schedule`), stored in Redis.

One hash, `jobsvc:schedules`: each schedule's JSON under its name, and a `#version` field
that every change sets to a new random token (one key, so one slot on a Cluster).
Workers read the version once a second and reload the schedules when it moved
(`jobs.cron.runner`), so a change reaches every worker within about a second, with no deploy.
Before it enqueues a tick of such a schedule a worker reads it again: a tick of a schedule
deleted, paused or changed meanwhile is not enqueued from the old definition. A tick's job id
is `cron:{name}:{tick ms}` either way, so a tick runs at most once whatever the workers read.

With `ENCRYPTION_KEYS` set, each definition is stored sealed (`jobs.layout.encryption`).

Each definition is checked as an enqueue would be (`check`): the job declared and public, its
input valid, the expression readable.
"""

import logging
import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, ConfigDict, Field, ValidationError, model_validator

from jobs.cron.schedules import MAX_EVERY_S, InvalidSchedule, Missed, Overlap, Schedule
from jobs.declare.models import Model
from jobs.declare.registry import JobSpec
from jobs.layout import encryption, keys
from jobs.layout.connection import RedisClient
from jobs.layout.encryption import EncryptionError

logger = logging.getLogger("jobs.cron")

VERSION = "#version"
"""The hash field counting changes (`#` is in no schedule name)."""
NAME_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
MAX_SCHEDULES = 1000
"""Stored schedules, at most: each is read by every worker on every change."""


class ScheduleDefinition(Model):
    """What a client gives for a schedule: its job and input, and when it runs."""

    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")  # no silent typo

    job: str = Field(max_length=200)
    input: dict[str, Any] = Field(default_factory=dict)
    """The job's input, checked as an enqueue's is."""
    cron: str | None = Field(default=None, max_length=200)
    """Five fields (minute hour day month weekday), or six with seconds last. Or `every`."""
    every: float | None = Field(default=None, ge=1, le=MAX_EVERY_S)
    """Seconds between ticks (on multiples of it since the Unix epoch). Or `cron`."""
    tz: str = Field(default="UTC", max_length=64)
    """The time zone `cron` is read in (IANA name)."""
    missed: Missed = "skip"
    """Ticks that passed while no worker ran: "skip" them, or "run_once" (the latest)."""
    overlap: Overlap = "allow"
    """"skip": a tick whose previous run is not final yet enqueues nothing."""
    paused: bool = False

    @model_validator(mode="after")
    def _one_timing(self) -> "ScheduleDefinition":
        if (self.cron is None) == (self.every is None):
            raise ValueError("give either cron or every")
        return self


class StoredSchedule(ScheduleDefinition):
    model_config = ConfigDict(use_attribute_docstrings=True, extra="ignore")  # a later release's

    created_at: AwareDatetime
    updated_at: AwareDatetime
    revision: int = Field(ge=1)
    """1 when created, one more on each change."""

    def schedule(self, name: str) -> Schedule:
        return Schedule(
            job=self.job,
            cron=self.cron or "* * * * *",
            tz=self.tz,
            payload=self.input,
            name=name,
            missed=self.missed,
            every=self.every,
            overlap=self.overlap,
            revision=self.revision,
            paused=self.paused,
        )


class ScheduleRefused(ValueError):
    """A definition no worker could run: `field` says which part (`job`, `input`, `cron`...)."""

    def __init__(self, message: str, field: str, details: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.details = details


def check(name: str, definition: ScheduleDefinition, catalog: dict[str, JobSpec]) -> Schedule:
    """The schedule `definition` makes, or `ScheduleRefused` saying what is wrong with it."""
    spec = catalog.get(definition.job)
    if spec is None or spec.internal:
        known = sorted(n for n, s in catalog.items() if not s.internal)
        raise ScheduleRefused(f"no job type {definition.job!r}", "job", {"known": known})
    try:
        spec.enqueue_model.model_validate(definition.input)
    except ValidationError as exc:
        raise ScheduleRefused(
            f"input is not valid for {spec.name}",
            "input",
            exc.errors(include_url=False, include_context=False, include_input=False),
        ) from None
    stored = StoredSchedule(
        **definition.model_dump(), created_at=_now(), updated_at=_now(), revision=1
    )
    try:
        return stored.schedule(name)
    except InvalidSchedule as exc:
        raise ScheduleRefused(str(exc), "cron" if definition.cron else "every") from None


async def put(
    redis: RedisClient, name: str, definition: ScheduleDefinition
) -> tuple[StoredSchedule, bool]:
    """Create or replace `name` (checked first with `check`); True if it is new. Its creation
    time stays; its revision moves on. The schedule and a new version go in one `HSET`."""
    raw, count = await _get_and_count(redis, name)
    old = _parse(raw)
    if raw is None and count >= MAX_SCHEDULES:
        raise ScheduleRefused(f"at most {MAX_SCHEDULES} schedules; delete one first", "name")
    now = await _server_now(redis)
    stored = StoredSchedule(
        **definition.model_dump(),
        created_at=old.created_at if old else now,
        updated_at=now,
        revision=old.revision + 1 if old else 1,
    )
    await redis.hset(  # type: ignore[misc]
        keys.SCHEDULES,
        mapping={
            # With ENCRYPTION_KEYS, sealed: its input is a job's input.
            name: encryption.seal_bytes(stored.model_dump_json().encode()),
            VERSION: _new_version(),
        },
    )
    return stored, raw is None


async def _get_and_count(redis: RedisClient, name: str) -> tuple[bytes | None, int]:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hget(keys.SCHEDULES, name)
        pipe.hlen(keys.SCHEDULES)
        raw, fields = await pipe.execute()
    return raw, max(int(fields) - 1, 0)  # less the version field


async def delete(redis: RedisClient, name: str) -> bool:
    """Remove `name`; False if there was none. (Should the version's write be lost, workers
    still learn of it: they read a schedule again before each tick.)"""
    removed = await redis.hdel(keys.SCHEDULES, name)  # type: ignore[misc]
    await redis.hset(keys.SCHEDULES, VERSION, _new_version())  # type: ignore[misc]
    return bool(removed)


async def version(redis: RedisClient) -> bytes:
    """Changes with every change: a worker reloads when it differs from what it saw."""
    raw = await redis.hget(keys.SCHEDULES, VERSION)  # type: ignore[misc]
    return raw or b""


async def load_raw(redis: RedisClient, name: str) -> bytes | None:
    """The stored JSON of `name`: a worker compares it with what it loaded, before a tick."""
    raw: bytes | None = await redis.hget(keys.SCHEDULES, name)  # type: ignore[misc]
    return raw


async def load(redis: RedisClient, name: str) -> StoredSchedule | None:
    raw = await redis.hget(keys.SCHEDULES, name)  # type: ignore[misc]
    return _parse(raw)


async def load_all(redis: RedisClient) -> tuple[bytes, dict[str, tuple[bytes, StoredSchedule]]]:
    """The version and every stored schedule by name, with its stored JSON; one that does not
    parse (written by a later release, or by hand) is left out, not fatal."""
    raw: dict[bytes, bytes] = await redis.hgetall(keys.SCHEDULES)  # type: ignore[misc]
    out: dict[str, tuple[bytes, StoredSchedule]] = {}
    current = b""
    for field, value in raw.items():
        name = field.decode()
        if name == VERSION:
            current = value
            continue
        parsed = _parse(value)
        if parsed is not None:
            out[name] = (value, parsed)
    return current, out


def _parse(raw: bytes | None) -> StoredSchedule | None:
    if raw is None:
        return None
    try:
        return StoredSchedule.model_validate_json(encryption.open_bytes(raw))
    except ValidationError:
        return None
    except EncryptionError as exc:  # left out, as one that does not parse; the log says why
        logger.error("stored schedule left out: %s", exc.message)
        return None


def _now() -> datetime:
    return datetime.now(UTC)


async def _server_now(redis: RedisClient) -> datetime:
    seconds, micros = await redis.time()
    return datetime.fromtimestamp(seconds + micros / 1e6, UTC)


def _new_version() -> str:
    return secrets.token_hex(8)
