"""Every Redis key the service uses, in one place.

ARQ's own keys (job definition, result, in-progress, abort set, queue) are kept as they are, so
stock ARQ producers and `arq.jobs.Job` keep working against the same Redis. Ours carry the
`jobsvc:` prefix. Lua scripts build per-job keys from the same prefixes (passed in ARGV), so a
single Redis (or a Sentinel-managed primary) is assumed; Redis Cluster is not supported.
"""

from arq.constants import (
    abort_jobs_ss,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
)

JOB = job_key_prefix  # arq:job:{id} -> job definition (JSON)
RESULT = result_key_prefix  # arq:result:{id} -> final outcome (JSON)
IN_PROGRESS = in_progress_key_prefix  # arq:in-progress:{id} -> "{worker}|{started_ms}", the lease
ABORT = abort_jobs_ss  # arq:abort zset: abort requests for running jobs
STATE = "jobsvc:state:"  # hash per live job: tries, progress, last error, next try
INDEX = "jobsvc:index"  # zset id -> enqueued ms: every job, for listing
FAILED = "jobsvc:failed"  # zset id -> finished ms: failed and aborted jobs
IDEMPOTENCY = "jobsvc:idem:"  # {name}:{key} -> "{id} {input hash}"
CRON_TICK = "jobsvc:cron:"  # {name}:{tick ms} -> the worker that enqueued that tick
WORKERS = "jobsvc:workers"  # zset worker id -> last heartbeat ms
WORKER = "jobsvc:worker:"  # {id} -> JSON heartbeat details
EVENTS = "jobsvc:events"  # pub/sub channel: "{kind} {id} {id} ..." on every change


def wake(queue: str) -> str:
    """List a producer pushes to and an idle worker blocks on: pickup without polling."""
    return f"{queue}:wake"


def health_check(queue: str) -> str:
    """ARQ's health-check key, read by `arq --check`."""
    return f"{queue}:health-check"


def idempotency(name: str, key: str) -> str:
    return f"{IDEMPOTENCY}{name}:{key}"
