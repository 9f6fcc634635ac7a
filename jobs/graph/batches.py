"""Batches: many jobs enqueued as one, with callbacks that run once all of them are final.

    created = await create_batch(
        redis,
        settings,
        [task(import_row, Row(...)) for row in rows],
        on_success=task(notify, Done(...)),  # only if every job completes
        on_complete=task(report, Report()),  # once all are final, whatever the outcome
    )

A batch is a workflow (`jobs.graph.workflows`, written by the same all-or-nothing machinery) whose
callbacks wait for every member: `on_success` with `on_parent_failure="fail"` (a member that
did not complete fails it, `ParentFailed`, without running), `on_complete` with "ignore". The
callback is released exactly once, by whichever settle is the last one (`deps.lua`: a member
counts once per callback), however many workers finish members at the same moment; it then
runs with the usual at-least-once guarantee. It reads the batch in `ctx.batch` ({id, total,
complete, failed, aborted}) and each member's status in `ctx.parent_statuses`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from jobs.declare.registry import JobSpec
from jobs.graph.dependencies import OnParentFailure
from jobs.graph.workflow_commit import enqueue_workflow
from jobs.graph.workflows import InvalidWorkflow, Task, Workflow, WorkflowState
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobRecord, JobStatus
from jobs.settings import Settings


@dataclass(frozen=True, slots=True)
class BatchCreated:
    id: str
    jobs: list[str]
    """The members' job ids, in the order given."""
    callbacks: dict[str, str]
    """"on_success" / "on_complete" -> the callback's job id (those given)."""
    done: str | None = None
    """With a `callback_url`: the job whose completion webhook reports the batch."""


def batch_workflow(
    jobs: Sequence[Task], on_success: Task | None = None, on_complete: Task | None = None
) -> tuple[Workflow, dict[str, str]]:
    """The batch as a workflow (members "0", "1", ...; callbacks by their names), and the
    callbacks' node keys."""
    if not jobs:
        raise InvalidWorkflow("a batch needs at least one job", None, "jobs")
    flow = Workflow()
    members = [flow.add_task(str(i), t) for i, t in enumerate(jobs)]
    callbacks: dict[str, str] = {}
    rules: tuple[tuple[str, Task | None, OnParentFailure], ...] = (
        ("on_success", on_success, "fail"),
        ("on_complete", on_complete, "ignore"),
    )
    for name, callback, rule in rules:
        if callback is not None:
            flow.add_task(name, replace(callback, on_parent_failure=rule), members)
            callbacks[name] = name
    return flow, callbacks


async def create_batch(
    redis: RedisClient,
    settings: Settings,
    jobs: Sequence[Task],
    *,
    on_success: Task | None = None,
    on_complete: Task | None = None,
    catalog: Mapping[str, JobSpec] | None = None,
    callback_url: str | None = None,
) -> BatchCreated:
    """Validate every job and callback, then write the batch all or nothing. `callback_url`:
    once all are final (callbacks included), a signed POST of the batch's outcome."""
    flow, callbacks = batch_workflow(jobs, on_success, on_complete)
    created = await enqueue_workflow(
        redis,
        flow,
        settings,
        kind="batch",
        callbacks=callbacks,
        catalog=catalog,
        limit=settings.max_batch_jobs + len(callbacks),
        # Its edges are its shape (each member waits for nothing, each callback for every
        # member), bounded by MAX_BATCH_JOBS rather than MAX_EDGES_PER_REQUEST.
        max_edges=len(callbacks) * settings.max_batch_jobs,
        callback_url=callback_url,
    )
    return BatchCreated(
        created.id,
        [created.jobs[str(i)] for i in range(len(jobs))],
        {name: created.jobs[key] for name, key in callbacks.items()},
        created.done,
    )


@dataclass(frozen=True, slots=True)
class BatchSummary:
    id: str
    total: int
    pending: int
    """Not final yet (waiting, queued, deferred or running)."""
    complete: int
    failed: int
    """Failed, or gone (expired before anyone looked)."""
    aborted: int
    callbacks: dict[str, JobRecord | None]


def summarize(state: WorkflowState) -> BatchSummary:
    """The members' counts of a batch read by `jobs.graph.workflows.load`."""
    callback_keys = set(state.record.callbacks.values())
    counts = {"pending": 0, "complete": 0, "failed": 0, "aborted": 0}
    total = 0
    for key, job in state.jobs.items():
        if key in callback_keys:
            continue
        total += 1
        if job is None or job.status is JobStatus.failed:
            counts["failed"] += 1
        elif job.status is JobStatus.complete:
            counts["complete"] += 1
        elif job.status is JobStatus.aborted:
            counts["aborted"] += 1
        else:
            counts["pending"] += 1
    callbacks = {name: state.jobs.get(key) for name, key in state.record.callbacks.items()}
    return BatchSummary(state.id, total, callbacks=callbacks, **counts)
