"""Every Redis key the service uses, in one place.

ARQ's own keys (job definition, result, in-progress, abort set, queue) are kept as they are, so
stock ARQ producers and `arq.jobs.Job` keep working against the same Redis. Ours carry the
`jobsvc:` prefix; what is stored under them is encoded by `jobs.records`. Lua scripts build
per-job keys from the same prefixes (spelled into them by `jobs.lua`), so a
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
IN_PROGRESS = in_progress_key_prefix  # arq:in-progress:{id} -> the lease (records.LeaseToken)
ABORT = abort_jobs_ss  # arq:abort zset: abort requests for running jobs
STATE = "jobsvc:state:"  # hash per live job: tries, progress, last error, next try
INDEX = "jobsvc:index"  # zset id -> enqueued ms: every job, for listing
FAILED = "jobsvc:failed"  # zset id -> finished ms: failed and aborted jobs
IDEMPOTENCY = "jobsvc:idem:"  # {name}:{key} -> "{id} {input hash}"
CRON_TICK = "jobsvc:cron:"  # {schedule}:{tick ms} -> the id enqueued for that tick
CLAIM = "jobsvc:claim:"  # {claim id} -> "{lease token} {id} ...": what one claim call took
WORKERS = "jobsvc:workers"  # zset worker id -> last heartbeat ms
WORKER = "jobsvc:worker:"  # {id} -> JSON heartbeat details
EVENTS = "jobsvc:events"  # pub/sub channel: records.Event on every change


def wake(queue: str) -> str:
    """List a producer pushes to and an idle worker blocks on: pickup without polling."""
    return f"{queue}:wake"


def health_check(queue: str) -> str:
    """ARQ's health-check key, read by `arq --check`."""
    return f"{queue}:health-check"


def idempotency(name: str, key: str) -> str:
    return f"{IDEMPOTENCY}{name}:{key}"


def claim(claim_id: str) -> str:
    return f"{CLAIM}{claim_id}"


def cron_tick(schedule: str, tick_ms: int) -> str:
    return f"{CRON_TICK}{schedule}:{tick_ms}"
