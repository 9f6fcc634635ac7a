"""Abort a job, from the API or from Python: the counterpart of `jobs.enqueue`.

A queued or deferred job is settled as aborted at once and never starts. A running one is
flagged in ARQ's abort set; the worker holding its lease cancels it within moments and
settles it (fenced by its lease token, like every settle).
"""

from typing import Literal

from arq.connections import ArqRedis

from jobs import keys, lua
from jobs.errors import Aborted, error_info
from jobs.records import JobDefinition
from jobs.results import result_data
from settings import Settings

AbortOutcome = Literal["aborted", "running", "final", "missing"]


async def abort(redis: ArqRedis, job_id: str, settings: Settings) -> AbortOutcome:
    """`aborted`: settled now; `running`: its worker will cancel it; `final`: too late;
    `missing`: unknown or expired."""
    raw = await redis.get(keys.JOB + job_id)
    definition = JobDefinition.load(raw) if raw is not None else None
    d = definition if isinstance(definition, JobDefinition) else None
    queue = (d.queue if d else None) or settings.queue_name
    tries = await redis.hget(keys.STATE + job_id, "tries")  # type: ignore[misc]
    aborted = result_data(
        job_id=job_id,
        name=d.function if d else "",
        args=d.args if d else [],
        kwargs=d.kwargs if d else {},
        tries=int(tries or 0),
        enqueued_ms=d.enqueued_ms if d else 0,
        status="aborted",
        result=error_info(Aborted("aborted on request")),
        started_ms=None,  # it never started (a running job is settled by its worker instead)
        queue=queue,
    )
    outcome: bytes = await lua.script("abort")(
        redis,
        [queue, keys.ABORT, keys.FAILED],
        [job_id, aborted, settings.failed_ttl_s * 1000],
    )
    return outcome.decode()  # type: ignore[return-value]
