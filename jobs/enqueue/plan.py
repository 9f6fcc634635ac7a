"""What one enqueue asks for, checked and turned into `enqueue.lua`'s rows.

`options(...)` settles a job's queue, priority, due time, flow control (`jobs.flow.limits`),
uniqueness, expiry and parents (`jobs.graph.dependencies`), raising what the caller got wrong;
the `Plan` it returns writes one job's row. `jobs.enqueue.submit` sends them; `jobs.graph.workflows`
plans a whole graph with `plan(...)` before it writes anything.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.constants import expires_extra_ms
from pydantic import BaseModel

from jobs.declare.registry import DECLARED, JobSpec, load_catalog
from jobs.flow.limits import FlowControl
from jobs.graph.dependencies import MAX_PARENTS, OnParentFailure
from jobs.layout import keys
from jobs.layout.records import JobDefinition, encode_gates
from jobs.webhooks.callback import DELIVERY_JOB, delivery_for
from settings import Settings

MAX_PRIORITY = 1_000_000


class UnknownJobName(LookupError):
    """`enqueue` was given a job name that no `@job` declares."""


class InvalidPriority(ValueError):
    """A priority outside 0..1,000,000."""


class QueuePinned(ValueError):
    """An enqueue named another queue for a job whose limits or uniqueness live on its
    declared queue (their state is kept in that queue's cluster slot)."""


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


def resolve(job: JobSpec | str, settings: Settings) -> tuple[str, str, FlowControl]:
    """(name, declared queue, flow control) of a job given by spec or by name; unknown names
    raise."""
    if isinstance(job, JobSpec):
        return job.name, job.queue, job.flow
    if job not in DECLARED:
        load_catalog(settings)  # imports the task modules and JOB_MODULES, then look again
    declared = DECLARED.get(job)
    if declared is None:
        raise UnknownJobName(f"no job named {job!r} is declared")
    return job, declared.options.queue or settings.queue_name, declared.flow


def check_priority(priority: int) -> int:
    if not 0 <= priority <= MAX_PRIORITY:
        raise InvalidPriority(f"priority {priority} is not in 0..{MAX_PRIORITY}")
    return priority


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else value


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    queue: keys.QueueKeys
    priority: int
    delay_ms: int
    due_ms: int | str
    flow: FlowControl
    unique_ms: int | None
    """How long an equal enqueue returns this job (`unique_for`), if unique."""
    expires: str
    """`enqueue.lua`'s expiry field: '' none, '+{ms}' after enqueue, or absolute ms."""
    after: tuple[str, ...] = ()
    """The parents it waits for (`jobs.graph.dependencies`)."""
    on_parent_failure: OnParentFailure = "fail"

    def expires_ms(self, now: int) -> int | None:
        """The expiry `enqueue.lua` wrote for a job it enqueued at `now` (server ms): so the
        202 view says `expires_at` as a later GET does."""
        if not self.expires:
            return None
        if self.expires.startswith("+"):
            return now + int(self.expires[1:])
        return int(self.expires)

    def row(self, job_id: str, data: Any) -> tuple[Any, ...]:
        definition = JobDefinition(
            self.name,
            [data],
            {},
            queue=self.queue.name,
            priority=self.priority,
            has_parents=bool(self.after),
        )
        flow = self.flow
        lock, mode, ttl = "", "", 0
        if self.unique_ms is not None or flow.debounce_s is not None:
            lock = flow.unique_lock(self.name, data)
            mode = "debounce" if flow.debounce_s is not None else "unique"
            ttl = self.unique_ms or 0
        gates = encode_gates(flow.gates(self.name, data), lock or None)
        return (
            job_id,
            definition.dump_open(),
            self.delay_ms,
            self.due_ms,
            self.priority,
            gates,
            lock,
            ttl,
            mode,
            self.expires,
            " ".join(self.after),
            self.on_parent_failure,
        )


def options(
    job: JobSpec | str,
    queue: str | None,
    priority: int,
    defer_by: float | timedelta | None,
    defer_until: datetime | None,
    settings: Settings,
    unique_for: float | timedelta | None = None,
    expires_in: float | timedelta | None = None,
    expires_at: datetime | None = None,
    after: Sequence[str] = (),
    on_parent_failure: OnParentFailure = "fail",
) -> Plan:
    name, declared, flow = resolve(job, settings)
    parents = _check_parents(after, on_parent_failure, defer_by, defer_until, flow)
    if flow.debounce_s is not None and defer_by is None and defer_until is None:
        defer_by = flow.debounce_s
    delay_ms, due_ms = _due(defer_by, defer_until)
    chosen = declared if queue is None else queue  # '' is a bad name, not "the default"
    if chosen != declared and flow.pins_queue:
        raise QueuePinned(
            f"job {name!r} has limits or uniqueness kept on its queue {declared!r}: "
            f"it cannot be put on {chosen!r}"
        )
    unique = _seconds(unique_for) if unique_for is not None else flow.unique_for_s
    expires = ""
    if expires_at is not None:
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        expires = str(int(expires_at.timestamp() * 1000))
    elif expires_in is not None or flow.expires_s is not None:
        seconds = _seconds(expires_in) if expires_in is not None else flow.expires_s
        expires = f"+{max(0, int((seconds or 0) * 1000))}"
    return Plan(
        name,
        keys.queue(chosen),
        check_priority(priority),
        delay_ms,
        due_ms,
        flow,
        None if unique is None else max(1, int(unique * 1000)),
        expires,
        parents,
        on_parent_failure,
    )


class InvalidDependency(ValueError):
    """`after` is malformed, or asks for what a waiting job cannot do."""


def _check_parents(
    after: Sequence[str],
    on_parent_failure: str,
    defer_by: float | timedelta | None,
    defer_until: datetime | None,
    flow: FlowControl,
) -> tuple[str, ...]:
    if isinstance(after, str):
        raise InvalidDependency("after is a list of job ids, not one string")
    parents = tuple(dict.fromkeys(after))  # once each, in order
    if on_parent_failure not in ("fail", "ignore"):
        raise InvalidDependency(
            f"on_parent_failure is 'fail' or 'ignore', not {on_parent_failure!r}"
        )
    if not parents:
        return parents
    if len(parents) > MAX_PARENTS:
        raise InvalidDependency(f"{len(parents)} parents; at most {MAX_PARENTS}")
    bad = [p for p in parents if not isinstance(p, str) or not keys.JOB_ID.match(p)]
    if bad:
        raise InvalidDependency(f"not job ids: {', '.join(map(repr, bad[:5]))}")
    if defer_by is not None or defer_until is not None or flow.debounce_s is not None:
        raise InvalidDependency("a job that waits for parents starts when they are final: no defer")
    return parents


def dump_input(payload: BaseModel | Any) -> Any:
    return payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload


def script_header(
    q: keys.QueueKeys,
    settings: Settings,
    idempotency: str = "",
    *,
    fresh: bool,
    coalesced: bool = False,
) -> list[Any]:
    """`enqueue.lua`'s ARGV before the rows. Public for `jobs.graph.workflows`, which puts the
    rows of many job types (`plan(...).row(...)`) in calls of its own, inside a transaction.
    `coalesced`: the rows are single enqueues sent together (`jobs.enqueue.group_commit`)."""
    return [
        q.prefix,
        idempotency,
        expires_extra_ms,
        settings.result_ttl_s * 1000,
        max(settings.result_ttl_s, settings.failed_ttl_s) * 1000,
        settings.listing_max_jobs,
        "1" if fresh else "0",
        settings.dependency_wait_s * 1000,
        int(settings.dependency_sweep_s * 1000),
        "1" if coalesced else "0",
    ]


def plan(
    job: JobSpec | str,
    settings: Settings,
    *,
    queue: str | None = None,
    priority: int = 0,
    after: Sequence[str] = (),
    on_parent_failure: OnParentFailure = "fail",
) -> "Plan":
    """One job's checked options (raising what `enqueue` would), without enqueueing it: for
    `jobs.graph.workflows`, which validates a whole graph before it writes anything."""
    return options(
        job, queue, priority, None, None, settings, after=after, on_parent_failure=on_parent_failure
    )


def script_args(
    o: Plan,
    rows: list[tuple[str, Any]],
    settings: Settings,
    idempotency: tuple[str, str] | None = None,
    *,
    fresh: bool,
    callback_url: str | None = None,
) -> list[Any]:
    """`enqueue.lua`'s ARGV for `rows` of `o`'s job. `fresh`: every id was made here (random):
    the script skips its duplicate checks. `callback_url`: each job's row is followed by its
    webhook delivery's, which waits for it (`jobs.webhooks.callback`: linked by the script itself;
    the reply has a value for each row)."""
    args = script_header(o.queue, settings, idempotency[1] if idempotency else "", fresh=fresh)
    deliveries = None
    if callback_url is not None:
        deliveries = plan(DELIVERY_JOB, settings, queue=o.queue.name, on_parent_failure="ignore")
    for job_id, data in rows:
        args += o.row(job_id, data)
        if deliveries is not None and callback_url is not None:
            d = delivery_for(job_id, callback_url)
            args += replace(deliveries, after=(job_id,)).row(d.job_id, d.payload)
    return args
