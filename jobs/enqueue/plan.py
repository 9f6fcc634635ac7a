"""What one enqueue asks for, checked and turned into `enqueue.lua`'s rows.

`plan(job, options, settings)` settles a job's queue, priority, due time, flow control
(`jobs.flow.limits`), uniqueness, expiry and parents (`jobs.graph.dependencies`) from its
`EnqueueOptions`, raising what the caller got wrong; the `Plan` it returns writes one job's
row (`EnqueueRow`). `jobs.enqueue.submit` sends them; `jobs.graph.workflow_validation` plans a
whole graph before anything is written.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from arq.constants import expires_extra_ms
from pydantic import BaseModel

from jobs import tracing
from jobs.declare.queues import check_declared
from jobs.declare.registry import DECLARED, JobSpec, load_catalog
from jobs.enqueue.options import EnqueueOptions
from jobs.flow.limits import FlowControl, key_text
from jobs.graph.dependencies import MAX_PARENTS, OnParentFailure
from jobs.layout import keys
from jobs.layout.records import IdempotencyRecord, JobDefinition, encode_gates
from jobs.layout.script_rows import EnqueueRow
from jobs.settings import Settings
from jobs.webhooks.callback import DELIVERY_JOB, delivery_for

MAX_PRIORITY = 1_000_000
MAX_DEFER_S = 365 * 24 * 3600
"""How far ahead an enqueue may schedule: `defer_by` and `expires_in` in seconds,
`defer_until` and `expires_at` from now."""


class UnknownJobName(LookupError):
    """`enqueue` was given a job name that no `@job` declares."""


class InvalidPriority(ValueError):
    """A priority outside 0..1,000,000."""


class InvalidSchedule(ValueError):
    """A defer or expiry further ahead than `MAX_DEFER_S` (365 days); `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}")
        self.field = field


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


def _aware(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def check_horizon(o: EnqueueOptions) -> None:
    """Refuse a defer or expiry more than `MAX_DEFER_S` ahead (a typo'd year is a job that
    never runs, or one that never expires)."""
    limit = datetime.now(UTC) + timedelta(seconds=MAX_DEFER_S)
    for field, seconds in (("defer_by", o.defer_by), ("expires_in", o.expires_in)):
        if seconds is not None and _seconds(seconds) > MAX_DEFER_S:
            raise InvalidSchedule(field, f"is more than {MAX_DEFER_S} seconds (365 days)")
    for field, when in (("defer_until", o.defer_until), ("expires_at", o.expires_at)):
        if when is not None and _aware(when) > limit:
            raise InvalidSchedule(field, "is more than 365 days from now")


def resolve(job: JobSpec | str, settings: Settings) -> tuple[str, str, FlowControl]:
    """(name, declared queue, flow control) of a job given by spec or name; unknown: raise."""
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


def check_fair_key(value: str | None) -> str | None:
    """A fair key value as stored: a long one is named by its hash, as a gate's key is."""
    return None if value is None else key_text(value)


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else value


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """One job type's enqueue, checked: what every row of it shares."""

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
    trace: str | None = None
    fair_key: str | None = None
    """The enqueue's fair key value, for every row (None: each row's declared field's)."""
    """The enqueue's `traceparent` (`jobs.tracing`), stored with each job; None: tracing off."""

    def expires_ms(self, now: int) -> int | None:
        """The expiry `enqueue.lua` wrote for a job it enqueued at `now` (server ms): so the
        202 view says `expires_at` as a later GET does."""
        if not self.expires:
            return None
        if self.expires.startswith("+"):
            return now + int(self.expires[1:])
        return int(self.expires)

    def row(self, job_id: str, data: Any) -> EnqueueRow:
        # Positional (in field order) here and below: one row per job enqueued, and a class
        # called with keywords builds a dict of them per call.
        definition = JobDefinition(
            self.name,
            [data],
            {},
            0,
            self.queue.name,
            self.priority,
            None,
            bool(self.after),
            self.trace,
        )
        flow = self.flow
        lock, ttl = "", 0
        mode: Literal["", "unique", "debounce"] = ""
        if self.unique_ms is not None or flow.debounce_s is not None:
            lock = flow.unique_lock(self.name, data)
            mode = "debounce" if flow.debounce_s is not None else "unique"
            ttl = self.unique_ms or 0
        return EnqueueRow(
            job_id,
            definition.dump_open(),
            self.delay_ms,
            self.due_ms,
            self.priority,
            encode_gates(flow.gates(self.name, data), lock or None),
            lock,
            ttl,
            mode,
            self.expires,
            " ".join(self.after),
            self.on_parent_failure,
            flow.fair_value(data) if self.fair_key is None else self.fair_key,
        )


def plan(job: JobSpec | str, options: EnqueueOptions, settings: Settings) -> Plan:
    """`job`'s enqueue with `options`, checked (raising what the caller got wrong)."""
    name, declared, flow = resolve(job, settings)
    o = options
    check_horizon(o)
    parents = _check_parents(o.after, o.on_parent_failure, o.defer_by, o.defer_until, flow)
    defer_by = o.defer_by
    if flow.debounce_s is not None and defer_by is None and o.defer_until is None:
        defer_by = flow.debounce_s
    delay_ms, due_ms = _due(defer_by, o.defer_until)
    chosen = declared if o.queue is None else o.queue  # '' is a bad name, not "the default"
    if chosen != declared and flow.pins_queue:
        raise QueuePinned(
            f"job {name!r} has limits or uniqueness kept on its queue {declared!r}: "
            f"it cannot be put on {chosen!r}"
        )
    if chosen != declared:
        check_declared(keys.check_queue_name(chosen), settings)  # no queue a request makes up
    unique = _seconds(o.unique_for) if o.unique_for is not None else flow.unique_for_s
    return Plan(
        name=name,
        queue=keys.queue(chosen),
        priority=check_priority(o.priority),
        delay_ms=delay_ms,
        due_ms=due_ms,
        flow=flow,
        unique_ms=None if unique is None else max(1, int(unique * 1000)),
        expires=_expiry(o, flow),
        after=parents,
        on_parent_failure=o.on_parent_failure,
        trace=tracing.traceparent(),
        fair_key=check_fair_key(o.fair_key),
    )


def _expiry(o: EnqueueOptions, flow: FlowControl) -> str:
    """`enqueue.lua`'s expiry field: '' none, '+{ms}' after enqueue, or absolute ms."""
    if o.expires_at is not None:
        expires_at = o.expires_at
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        return str(int(expires_at.timestamp() * 1000))
    if o.expires_in is not None or flow.expires_s is not None:
        seconds = _seconds(o.expires_in) if o.expires_in is not None else flow.expires_s
        return f"+{max(0, int((seconds or 0) * 1000))}"
    return ""


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
    idempotency: IdempotencyRecord | None = None,
    *,
    fresh: bool,
    coalesced: bool = False,
) -> list[Any]:
    """`enqueue.lua`'s ARGV before the rows. Public for `jobs.graph.workflow_commit`, which puts
    the rows of many job types (`plan(...).row(...)`) in calls of its own, inside a transaction.
    `coalesced`: the rows are single enqueues sent together (`jobs.enqueue.group_commit`)."""
    return [
        q.prefix,
        "" if idempotency is None else idempotency.encode(),
        expires_extra_ms,
        settings.result_ttl_s * 1000,
        max(settings.result_ttl_s, settings.failed_ttl_s) * 1000,
        settings.listing_max_jobs,
        "1" if fresh else "0",
        settings.dependency_wait_s * 1000,
        int(settings.dependency_sweep_s * 1000),
        "1" if coalesced else "0",
    ]


def delivery_options(queue: str) -> EnqueueOptions:
    """A webhook delivery's: on its job's queue (one slot), run whatever the job's outcome."""
    return EnqueueOptions(queue=queue, on_parent_failure="ignore")


def script_args(
    o: Plan,
    rows: list[tuple[str, Any]],
    settings: Settings,
    idempotency: IdempotencyRecord | None = None,
    *,
    fresh: bool,
    callback_url: str | None = None,
) -> list[Any]:
    """`enqueue.lua`'s ARGV for `rows` of `o`'s job. `fresh`: every id was made here (random):
    the script skips its duplicate checks. `callback_url`: each job's row is followed by its
    webhook delivery's, which waits for it (`jobs.webhooks.callback`: linked by the script itself;
    the reply has a value for each row)."""
    args = script_header(o.queue, settings, idempotency, fresh=fresh)
    deliveries = None
    if callback_url is not None:
        deliveries = plan(DELIVERY_JOB, delivery_options(o.queue.name), settings)
    for job_id, data in rows:
        args += o.row(job_id, data)
        if deliveries is not None and callback_url is not None:
            d = delivery_for(job_id, callback_url)
            args += replace(deliveries, after=(job_id,)).row(d.job_id, d.payload)
    return args
