"""Read a job's whole state from Redis and name it; bytes we did not write read as an error.

A job's status is derived from ARQ's own keys, the same way `arq.jobs.Job.status()` does,
refined with what ARQ cannot tell (failed vs complete vs aborted, tries, progress, last error).
"""

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from jobs.declare.models import Model
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.layout.encryption import EncryptionError
from jobs.layout.records import JobDefinition, JobState, LeaseToken, Poison, open_result
from jobs.layout.serialization import deserialize
from jobs.webhooks.url_policy import redact_url


class JobStatus(StrEnum):
    waiting = "waiting"
    """Enqueued `after` other jobs that are not all final yet (`jobs.graph.dependencies`)."""
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


WaitReason = Literal["concurrency", "rate_limit"]


class Progress(Model):
    fraction: float = Field(ge=0, le=1)
    message: str = ""


class JobError(Model):
    type: str
    message: str
    retryable: bool


M = TypeVar("M", bound=BaseModel)


class JobRecord(Model):
    """A job as clients see it (the API's JobView)."""

    id: str
    name: str
    queue: str
    priority: int = 0
    """Lower runs first (0..1,000,000); FIFO within one priority."""
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
    waiting_for: WaitReason | None = None
    """Why a queued job has not started although it is due: a limit holds it (`jobs.flow`)."""
    waiting_until: datetime | None = None
    """When a rate limit lets it, or the job held before it, go (None for concurrency)."""
    expires_at: datetime | None = None
    """Not started by then, it never starts (it fails as `Expired`)."""
    after: list[str] | None = None
    """The jobs it waited for (`after`), while it is not final."""
    waiting_on: int | None = None
    """While `waiting`: how many of them are not final yet."""
    steps: list[str] | None = None
    """Its durable steps (`ctx.step`) recorded so far; once final, those its last try ran or
    replayed, in order."""
    waiting_for_signal: str | None = None
    """While `waiting`: the signal it is parked for (`POST /jobs/{id}/signals/{name}`);
    `scheduled_for` is then when it stops waiting (`SignalTimeout`)."""
    trace_id: str | None = None
    """The trace its enqueue began or joined (32 hex digits), when tracing was on then: each
    of its tries is a span in that trace (`jobs.tracing`)."""


def _dt(ms: Any) -> datetime | None:
    if ms in (None, b"", ""):
        return None
    try:
        return datetime.fromtimestamp(int(float(ms)) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _model(model: type[M], raw: bytes | None) -> M | None:
    """A small JSON value we wrote (progress, last error); None if absent or not ours."""
    if not raw:
        return None
    try:
        return model.model_validate_json(raw)
    except ValidationError:
        return None


def _from_result(job_id: str, raw: bytes, max_tries: dict[str, int]) -> JobRecord:
    try:
        d = deserialize(raw)
    except ValueError:
        d = None
    if not isinstance(d, dict):
        poison = Poison("UndecodableResult", "the stored result is not JSON this service wrote")
        return _poisoned(job_id, poison, JobStatus.failed, keys.queue_of(job_id))
    sealed: JobError | None = None
    try:
        d = open_result(d)
    except EncryptionError as exc:  # its status stands; input and outcome say which key
        sealed = JobError.model_validate(Poison(exc.kind, exc.message).error())
    success = bool(d.get("s"))
    r = d.get("r")
    status = d.get("status") or ("complete" if success else "failed")
    if not success and isinstance(r, dict) and r.get("type") == "CancelledError":
        status = "aborted"  # aborted by a stock ARQ worker
    name = str(d.get("f") or "")
    args = d.get("a")
    return JobRecord(
        id=job_id,
        name=name,
        queue=keys.queue_of(job_id),
        priority=_int(d.get("p")),
        status=JobStatus(status) if status in JobStatus.__members__ else JobStatus.failed,
        tries=_int(d.get("t")),
        max_tries=max_tries.get(name),
        enqueued_at=_dt(d.get("et")),
        started_at=_dt(d.get("st")),
        finished_at=_dt(d.get("ft")),
        progress=Progress(fraction=1.0) if success else None,
        input=args[0] if isinstance(args, list) and args else d.get("k") or None,
        result=r if success else None,
        error=sealed or (None if success else _as_error(r)),
        worker=_str(d.get("w") or d.get("worker")),
        steps=_names(d.get("sp")),
        trace_id=trace_id(d.get("tp")),
    )


TRACE_ID = re.compile(r"[0-9a-f]{32}")


def trace_id(traceparent: Any) -> str | None:
    """The trace id of a stored W3C `traceparent` (`00-<trace id>-<span id>-<flags>`); None
    for anything else (a malformed context costs the link, never the view)."""
    if not isinstance(traceparent, str):
        return None
    parts = traceparent.split("-")
    if len(parts) != 4 or not TRACE_ID.fullmatch(parts[1]) or parts[1] == "0" * 32:
        return None
    return parts[1]


def _names(value: Any) -> list[str] | None:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _as_error(r: Any) -> JobError:
    if isinstance(r, dict):
        try:
            # Final: whatever the exception was, nothing will retry it any more.
            return JobError.model_validate({**r, "retryable": False})
        except ValidationError:
            pass
    return JobError(type="Error", message=str(r)[:2000], retryable=False)


def _poisoned(job_id: str, poison: Poison, status: JobStatus, queue: str) -> JobRecord:
    return JobRecord(
        id=job_id,
        name="",
        queue=queue,
        status=status,
        tries=0,
        max_tries=None,
        enqueued_at=None,
        error=JobError.model_validate(poison.error()),
    )


async def load_jobs(
    redis: RedisClient, job_ids: list[str], max_tries: dict[str, int], *, legacy: bool = False
) -> list[JobRecord | None]:
    """The records of `job_ids` (None where unknown or expired), in one pipeline.

    The id names the queue, so every key is known up front. `legacy` (single Redis only): also
    read ARQ's `arq:job:{id}` and `arq:result:{id}` (a stock ARQ producer's job, or one
    queued or finished under the ARQ single-queue layout: read both for a release).
    """
    per_job = 8 if legacy else 6
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            q = keys.of_job(job_id)
            pipe.get(q.result(job_id))
            pipe.get(q.job(job_id))
            pipe.get(q.lease(job_id))
            pipe.hgetall(q.state(job_id))
            pipe.zscore(q.abort, job_id)
            pipe.zscore(q.due, job_id)
            if legacy:
                pipe.get(keys.LEGACY_JOB + job_id)
                pipe.get(keys.LEGACY_RESULT + job_id)
        replies = await pipe.execute()
    now_ms = time.time() * 1000
    records: list[JobRecord | None] = []
    for i, job_id in enumerate(job_ids):
        row = replies[i * per_job : (i + 1) * per_job]
        result, definition, lease, state, abort, due, *old = row
        if old:  # the ARQ single-queue layout, or a stock ARQ producer's job
            definition, result = definition or old[0], result or old[1]
        if result is not None:
            records.append(_from_result(job_id, result, max_tries))
        elif definition is None:
            records.append(None)
        else:
            live = Live(lease, due, state, abort is not None)
            records.append(_live(job_id, JobDefinition.load(definition), live, now_ms, max_tries))
    return [_redacted(r) for r in records]


def _redacted(record: JobRecord | None) -> JobRecord | None:
    """A webhook delivery's view shows its callback URL without the query (often a token);
    the delivery itself reads its full input, not this view."""
    if record is None or record.name != "jobsvc.deliver_webhook":
        return record
    payload = record.input
    if not isinstance(payload, dict) or not isinstance(payload.get("url"), str):
        return record
    return record.model_copy(update={"input": {**payload, "url": redact_url(payload["url"])}})


@dataclass(frozen=True, slots=True)
class Live:
    """What Redis holds about a job that is not final yet, besides its definition."""

    lease: bytes | None
    due: float | None
    """Its due-set score: due time, or its lease's end (None: ready, ranked by priority)."""
    state: dict[bytes, bytes]
    abort_requested: bool


def _live(
    job_id: str,
    definition: JobDefinition | Poison,
    live: Live,
    now_ms: float,
    max_tries: dict[str, int],
) -> JobRecord:
    token = LeaseToken.parse(live.lease) if live.lease is not None else None
    state = JobState.parse(live.state)
    if live.lease is not None:
        status = JobStatus.in_progress
    elif state.waiting or state.parked:
        status = JobStatus.waiting
    elif live.due is not None and live.due > now_ms:
        status = JobStatus.deferred
    else:
        status = JobStatus.queued
    queue = keys.queue_of(job_id)
    if isinstance(definition, Poison):
        return _poisoned(job_id, definition, status, queue)
    wait = state.wait
    waiting = wait if wait and wait.on in ("concurrency", "rate_limit") else None
    most = max_tries.get(definition.function)
    return JobRecord(
        id=job_id,
        name=definition.function,
        queue=queue,
        priority=definition.priority,
        status=status,
        # A claim past the last try runs nothing (the worker fails the job at once): it is
        # not a try, though the counter counted it until that settle is stored.
        tries=min(state.tries, most) if most else state.tries,
        max_tries=most,
        enqueued_at=_dt(definition.enqueued_ms),
        scheduled_for=_dt(live.due)
        if status is JobStatus.deferred or (state.parked and status is JobStatus.waiting)
        else None,
        started_at=_dt(token.started_ms) if token else None,
        progress=_model(Progress, state.progress),
        input=definition.payload,
        error=_model(JobError, state.error),
        worker=token.worker if token else None,
        abort_requested=live.abort_requested and status is JobStatus.in_progress,
        waiting_for=waiting.on if waiting and status is JobStatus.queued else None,
        waiting_until=_dt(waiting.until_ms) if waiting and status is JobStatus.queued else None,
        expires_at=_dt(definition.expires_ms),
        after=state.after,
        waiting_on=state.waiting_on if status is JobStatus.waiting else None,
        steps=state.steps or None,
        waiting_for_signal=state.parked if status is JobStatus.waiting else None,
        trace_id=trace_id(definition.trace),
    )


def new_job_record(
    job_id: str,
    name: str,
    max_tries: int,
    enqueued_ms: int,
    scheduled_ms: int,
    payload: Any,
    priority: int = 0,
    expires_ms: int | None = None,
) -> JobRecord:
    """The record of a job just enqueued: known without asking Redis again."""
    return JobRecord(
        id=job_id,
        name=name,
        queue=keys.queue_of(job_id),
        priority=priority,
        status=JobStatus.deferred if scheduled_ms > enqueued_ms else JobStatus.queued,
        tries=0,
        max_tries=max_tries,
        enqueued_at=_dt(enqueued_ms),
        scheduled_for=_dt(scheduled_ms),
        input=payload,
        expires_at=_dt(expires_ms),
    )


async def load_job(
    redis: RedisClient, job_id: str, max_tries: dict[str, int], *, legacy: bool = False
) -> JobRecord | None:
    return (await load_jobs(redis, [job_id], max_tries, legacy=legacy))[0]
