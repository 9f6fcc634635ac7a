"""Abort a job, from the API or from Python: the counterpart of `jobs.enqueue.submit`.

A queued or deferred job is settled as aborted at once and never starts. A running one is
flagged in its queue's abort set; the worker holding its lease cancels it within moments and
settles it (fenced by its lease token, like every settle).
"""

from typing import Literal

from jobs.declare.job_errors import Aborted
from jobs.graph import dependencies
from jobs.layout import keys, scripts
from jobs.layout.connection import RedisClient
from jobs.layout.records import JobDefinition, result_data
from jobs.layout.serialization import error_info
from jobs.settings import Settings

AbortOutcome = Literal["aborted", "running", "final", "missing"]


async def abort(
    redis: RedisClient, job_id: str, settings: Settings, *, legacy: bool = False
) -> AbortOutcome:
    """`aborted`: settled now; `running`: its worker will cancel it; `final`: too late;
    `missing`: unknown or expired. `legacy`: single Redis, where a stock ARQ producer's
    definition may sit at `arq:job:{id}`."""
    q = keys.of_job(job_id)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(q.job(job_id))
        pipe.hget(q.state(job_id), "tries")
        if legacy:
            pipe.get(keys.LEGACY_JOB + job_id)
        raw, tries, *old = await pipe.execute()
    stock = raw is None and bool(old and old[0] is not None)
    definition = JobDefinition.load(raw if raw is not None else old[0]) if raw or stock else None
    d = definition if isinstance(definition, JobDefinition) else None
    aborted = result_data(
        name=d.function if d else "",
        args=d.args if d else [],
        kwargs=d.kwargs if d else {},
        tries=int(tries or 0),
        enqueued_ms=d.enqueued_ms if d else 0,
        status="aborted",
        result=error_info(Aborted("aborted on request")),
        started_ms=None,  # it never started (a running job is settled by its worker instead)
        priority=d.priority if d else 0,
        trace=d.trace if d else None,
    )
    reply: list[bytes] = await scripts.script("abort")(
        redis,
        [q.due, q.levels, q.failed, q.abort],
        [
            q.prefix,
            job_id,
            aborted,
            settings.failed_ttl_s * 1000,
            "1" if stock else "0",
            int(settings.lease_s * 1000),
        ],
    )
    outcome = reply[0].decode()
    releases = dependencies.releases_from(reply[1:])
    if releases:  # jobs on other queues that waited for it (a sweep resends a lost call)
        await dependencies.send_releases(redis, releases)
    return outcome  # type: ignore[return-value]
