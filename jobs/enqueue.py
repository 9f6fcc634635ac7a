"""Put a job on its queue: one atomic round trip, idempotent on request.

    await enqueue(redis, "send_email", SendEmail(...), defer_by=60)

Works from the API, from another endpoint's handler, from a job, or from a script. The job goes
to its declared queue (`@job(queue=...)`), whether it is named or given as a `JobSpec`.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson
from arq.connections import ArqRedis
from arq.constants import expires_extra_ms
from pydantic import BaseModel

from jobs import keys, lua
from jobs.records import JobDefinition
from jobs.registry import DECLARED, JobSpec, load_catalog
from settings import Settings, get_settings


class UnknownJobName(LookupError):
    """`enqueue` was given a job name that no `@job` declares."""


@dataclass(frozen=True, slots=True)
class Enqueued:
    job_id: str
    outcome: Literal["created", "existing", "duplicate"]
    """`existing`: the idempotency key was seen before (see `same_input`);
    `duplicate`: a job with this id exists already."""
    same_input: bool = True
    enqueued_ms: int = 0
    """The server's clock at enqueue (`created` only), like `scheduled_ms`."""
    scheduled_ms: int = 0
    payload: dict[str, Any] | None = None
    queue: str = ""


def input_fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _due(defer_by: float | timedelta | None, defer_until: datetime | None) -> tuple[int, int | str]:
    """(delay ms, absolute due ms or ''): the server adds the delay to its own clock."""
    if defer_until is not None:
        if defer_until.tzinfo is None:
            defer_until = defer_until.replace(tzinfo=UTC)
        return 0, int(defer_until.timestamp() * 1000)
    if defer_by is not None:
        seconds = defer_by.total_seconds() if isinstance(defer_by, timedelta) else defer_by
        return max(0, int(seconds * 1000)), ""
    return 0, ""


def resolve(job: JobSpec | str, settings: Settings) -> tuple[str, str]:
    """(name, queue) of a job given by spec or by name; unknown names raise UnknownJobName."""
    if isinstance(job, JobSpec):
        return job.name, job.queue
    if job not in DECLARED:
        load_catalog(settings)  # imports the task modules and JOB_MODULES, then look again
    declared = DECLARED.get(job)
    if declared is None:
        raise UnknownJobName(f"no job named {job!r} is declared")
    return job, declared.options.queue or settings.queue_name


async def enqueue(
    redis: ArqRedis,
    job: JobSpec | str,
    payload: BaseModel | dict[str, Any],
    *,
    defer_by: float | timedelta | None = None,
    defer_until: datetime | None = None,
    job_id: str | None = None,
    idempotency_key: str | None = None,
    idempotency_redis_key: str | None = None,
    settings: Settings | None = None,
) -> Enqueued:
    """Enqueue `job` with `payload` (validated by the caller; the worker validates again).

    `idempotency_redis_key` names the key that records the enqueue (the cron scheduler uses a
    tick's key); by default it is derived from the job name and `idempotency_key`.
    """
    settings = settings or get_settings()
    name, queue = resolve(job, settings)
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    job_id = job_id or uuid.uuid4().hex
    delay_ms, due_ms = _due(defer_by, defer_until)
    if idempotency_key and not idempotency_redis_key:
        idempotency_redis_key = keys.idempotency(name, idempotency_key)
    fingerprint = input_fingerprint(data) if idempotency_redis_key else ""
    definition = JobDefinition(name, [data], {}, queue=queue)
    reply = await lua.script("enqueue")(
        redis,
        keys=[queue, keys.wake(queue), keys.INDEX, idempotency_redis_key or keys.INDEX],
        args=[
            job_id,
            definition.dump_open(),
            delay_ms,
            due_ms,
            f"{job_id} {fingerprint}" if idempotency_redis_key else "",
            expires_extra_ms,
            settings.result_ttl_s * 1000,
        ],
    )
    outcome = reply[0].decode()
    if outcome == "existing":
        existing_id, _, existing_fingerprint = reply[1].decode().partition(" ")
        return Enqueued(existing_id, "existing", existing_fingerprint == fingerprint, queue=queue)
    if outcome == "duplicate":
        return Enqueued(job_id, "duplicate", queue=queue)
    return Enqueued(job_id, "created", True, int(reply[2]), int(reply[3]), data, queue)
