"""How jobs and queues are named: the grammar of queue names and job ids.

A job id names its queue (`<unique>@<queue>`; bare for the default queue `arq:queue`), so
everything about a job is found from its id alone (`jobs.layout.keys.of_job`), on a cluster too.
Ids are URL-safe.
"""

import re
import secrets

DEFAULT_QUEUE = "arq:queue"
QUEUE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
"""Allowed queue names; any of them is safe: a queue's keys live under `jobsvc:{name}:`."""
JOB_ID = re.compile(r"^[\w:.\-]+(@[A-Za-z0-9_.:\-]+)?$")
"""Any id: `<unique>` (default queue) or `<unique>@<queue>` (a route pattern: anchored)."""
UNIQUE = re.compile(r"[\w:.\-]{1,200}", re.ASCII)
"""A caller's own unique part (`job_id=`): no `@`, which names the queue."""


class InvalidQueueName(ValueError):
    """A queue name outside `[A-Za-z0-9_.:-]{1,64}`."""


class InvalidJobId(ValueError):
    """A caller's own id outside `[A-Za-z0-9_:.-]{1,200}` (no `@`: that names the queue)."""


def check_queue_name(name: str) -> str:
    if not QUEUE_NAME.fullmatch(name):
        raise InvalidQueueName(f"queue name {name!r} is not [A-Za-z0-9_.:-]{{1,64}}")
    return name


def queue_of(job_id: str) -> str:
    """The queue a job id names (`<unique>@<queue>`), or the default queue."""
    _, at, queue = job_id.rpartition("@")
    return queue if at else DEFAULT_QUEUE


def job_id_for(queue: str, unique: str | None = None) -> str:
    """A new id on `queue` (or the given unique part, e.g. a caller's own id)."""
    if unique is not None and not UNIQUE.fullmatch(unique):
        raise InvalidJobId(f"job id {unique!r} is not [A-Za-z0-9_:.-]{{1,200}}")
    # 128 random bits in 22 URL-safe characters (a uuid4's 32 hex ones cost every job, in
    # every key and listing entry, 10 bytes more).
    unique = unique or secrets.token_urlsafe(16)
    return unique if queue == DEFAULT_QUEUE else f"{unique}@{queue}"
