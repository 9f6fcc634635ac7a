"""Read a job's whole state from Redis in one round trip and name it.

A job's status is derived from ARQ's own keys, the same way `arq.jobs.Job.status()` does,
refined with what ARQ cannot tell (failed vs complete vs aborted, tries, progress, last error).
"""

import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from arq.connections import ArqRedis
from pydantic import BaseModel, Field

from jobs import keys
from jobs.serialization import deserialize


class JobStatus(StrEnum):
    deferred = "deferred"
    queued = "queued"
    in_progress = "in_progress"
    complete = "complete"
    failed = "failed"
    aborted = "aborted"

    @property
    def is_final(self) -> bool:
        return self in FINAL


FINAL = frozenset({JobStatus.complete, JobStatus.failed, JobStatus.aborted})


class Progress(BaseModel):
    fraction: float = Field(ge=0, le=1)
    message: str = ""


class JobError(BaseModel):
    type: str
    message: str
    retryable: bool


class JobRecord(BaseModel):
    """A job as clients see it (the API's JobView)."""

    id: str
    name: str
    queue: str
    status: JobStatus
    tries: int
    max_tries: int | None
    enqueued_at: datetime | None
    scheduled_for: datetime | None = None
    """When a deferred job (or the next try of a failing one) is due."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: Progress | None = None
    input: Any = None
    result: Any = None
    error: JobError | None = None
    worker: str | None = None
    abort_requested: bool = False


def _dt(ms: Any) -> datetime | None:
    if ms in (None, b"", ""):
        return None
    return datetime.fromtimestamp(int(float(ms)) / 1000, tz=UTC)


def _first_arg(definition: dict[str, Any]) -> Any:
    args = definition.get("a") or []
    return args[0] if args else definition.get("k") or None


def _from_result(job_id: str, raw: bytes, max_tries: dict[str, int]) -> JobRecord:
    d = deserialize(raw)
    success = bool(d.get("s"))
    r = d.get("r")
    status = d.get("status") or ("complete" if success else "failed")
    if not success and isinstance(r, dict) and r.get("type") == "CancelledError":
        status = "aborted"  # aborted by a stock ARQ worker
    return JobRecord(
        id=job_id,
        name=d.get("f", ""),
        queue=d.get("q", ""),
        status=JobStatus(status),
        tries=int(d.get("t") or 0),
        max_tries=max_tries.get(d.get("f", "")),
        enqueued_at=_dt(d.get("et")),
        started_at=_dt(d.get("st")),
        finished_at=_dt(d.get("ft")),
        progress=Progress(fraction=1.0) if success else None,
        input=_first_arg(d),
        result=r if success else None,
        error=None if success else JobError.model_validate(_as_error(r)),
        worker=d.get("worker"),
    )


def _as_error(r: Any) -> dict[str, Any]:
    if isinstance(r, dict) and {"type", "message"} <= r.keys():
        return {"retryable": False, **r}
    return {"type": "Error", "message": str(r), "retryable": False}


async def load_jobs(
    redis: ArqRedis, job_ids: list[str], queue: str, max_tries: dict[str, int]
) -> list[JobRecord | None]:
    """The records of `job_ids` (None where unknown or expired), in one pipeline."""
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.get(keys.RESULT + job_id)
            pipe.get(keys.JOB + job_id)
            pipe.get(keys.IN_PROGRESS + job_id)
            pipe.zscore(queue, job_id)
            pipe.hgetall(keys.STATE + job_id)
            pipe.zscore(keys.ABORT, job_id)
        replies = await pipe.execute()
    now_ms = time.time() * 1000
    records: list[JobRecord | None] = []
    for i, job_id in enumerate(job_ids):
        result, definition, lease, score, state, abort = replies[i * 6 : i * 6 + 6]
        if result is not None:
            records.append(_from_result(job_id, result, max_tries))
        elif definition is None:
            records.append(None)
        else:
            records.append(
                _live(job_id, definition, lease, score, state, abort, queue, now_ms, max_tries)
            )
    return records


def _live(
    job_id: str,
    definition: bytes,
    lease: bytes | None,
    score: float | None,
    state: dict[bytes, bytes],
    abort: float | None,
    queue: str,
    now_ms: float,
    max_tries: dict[str, int],
) -> JobRecord:
    d = deserialize(definition)
    worker, started_ms = None, None
    if lease is not None:
        worker, _, started = lease.decode().rpartition("|")
        started_ms = started if started.isdigit() else None
        status = JobStatus.in_progress
    elif score is not None and score > now_ms:
        status = JobStatus.deferred
    else:
        status = JobStatus.queued
    progress = state.get(b"progress")
    error = state.get(b"error")
    return JobRecord(
        id=job_id,
        name=d.get("f", ""),
        queue=queue,
        status=status,
        tries=int(state.get(b"tries", 0)),
        max_tries=max_tries.get(d.get("f", "")),
        enqueued_at=_dt(d.get("et")),
        scheduled_for=_dt(score) if status is not JobStatus.in_progress else None,
        started_at=_dt(started_ms),
        progress=Progress.model_validate(deserialize(progress)) if progress else None,
        input=_first_arg(d),
        error=JobError.model_validate(deserialize(error)) if error else None,
        worker=worker or None,
        abort_requested=abort is not None and status is JobStatus.in_progress,
    )


def new_job_record(
    job_id: str,
    name: str,
    queue: str,
    max_tries: int,
    enqueued_ms: int,
    scheduled_ms: int,
    payload: Any,
) -> JobRecord:
    """The record of a job just enqueued: known without asking Redis again."""
    return JobRecord(
        id=job_id,
        name=name,
        queue=queue,
        status=JobStatus.deferred if scheduled_ms > enqueued_ms else JobStatus.queued,
        tries=0,
        max_tries=max_tries,
        enqueued_at=_dt(enqueued_ms),
        scheduled_for=_dt(scheduled_ms),
        input=payload,
    )


async def load_job(
    redis: ArqRedis, job_id: str, queue: str, max_tries: dict[str, int]
) -> JobRecord | None:
    return (await load_jobs(redis, [job_id], queue, max_tries))[0]
