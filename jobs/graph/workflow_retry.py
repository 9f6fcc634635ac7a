"""Retry a finished workflow (or batch): rerun what did not complete, keep what did.

    retried = await retry_workflow(redis, state, settings, inputs={"b": {"n": 2}})

The nodes rerun are those whose job failed, was aborted, or never started (`ParentFailed`); a
node that completed keeps its job and result and does not run again, whatever its parents did.
Each rerun node is a new job (as `/failed/retry` makes one) with its stored input, or the
corrected one given for it, its queue, priority and `on_parent_failure`; it waits for its rerun
parents and for its completed ones, so `ctx.parent_results` holds every parent's result as in
the first run. The workflow keeps its id: its record now names the new jobs, so it reads
`running`, then `complete` if they do. With a `callback_url` it reports again once final.

The new jobs, their links and the rewritten record are written as a workflow's are, all or
nothing (`jobs.graph.workflow_commit`). One retry per generation: a retry takes the fence
`{record}:retry:{n}` (n: the record's retry count) before writing, so of two retries of the
same failed workflow one writes and the other is refused, and no node runs twice.

Refused, with nothing written: a workflow not final yet (`WorkflowRunning`), one that completed
(`NothingToRetry`), one with a node whose record has expired (`NodeExpired`: whether it
completed is unknown, and a completed node must not run twice).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobs.declare.registry import JobSpec
from jobs.graph.dependencies import OnParentFailure
from jobs.graph.workflow_commit import RetryOf, enqueue_workflow
from jobs.graph.workflows import InvalidWorkflow, Task, Workflow, WorkflowState, record_key
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus
from jobs.settings import Settings

FENCE_MS = 60_000
"""How long a retry's fence holds its generation: past the longest write of a workflow, so a
retry that crashed before writing blocks the next one this long at most."""


class RetryRefused(Exception):
    """The workflow cannot be retried now; nothing was written. `code` says why."""

    code = "workflow_not_retryable"


class WorkflowRunning(RetryRefused):
    code = "workflow_running"


class NothingToRetry(RetryRefused):
    code = "workflow_complete"


class NodeExpired(RetryRefused):
    code = "workflow_expired"


class RetryInProgress(RetryRefused):
    code = "retry_in_progress"


@dataclass(frozen=True, slots=True)
class Retried:
    id: str
    rerun: dict[str, str]
    """Node key -> its new job's id."""
    kept: list[str]
    """The node keys that completed and keep their jobs."""


async def retry_workflow(
    redis: RedisClient,
    state: WorkflowState,
    settings: Settings,
    *,
    inputs: Mapping[str, Any] | None = None,
    catalog: Mapping[str, JobSpec] | None = None,
) -> Retried:
    """Rerun `state`'s nodes that did not complete (see the module doc). `inputs`: node key ->
    a corrected input for a rerun node (`InvalidWorkflow` for a node that is not rerun)."""
    record = state.record
    if state.status == "running":
        raise WorkflowRunning(f"workflow {state.id} is running: retry it once it is final")
    expired = [key for key, job in state.jobs.items() if job is None]
    if expired:
        raise NodeExpired(
            f"the records of nodes {', '.join(expired)} have expired: whether they completed "
            "is unknown, so the workflow cannot be retried"
        )
    if state.status == "complete":
        raise NothingToRetry(f"workflow {state.id} completed: nothing to retry")
    done = {
        k for k, job in state.jobs.items() if job is not None and job.status is JobStatus.complete
    }
    inputs = dict(inputs or {})
    for key in inputs:
        if key not in record.nodes:
            raise InvalidWorkflow("no such node", key, "nodes")
        if key in done:
            raise InvalidWorkflow("it completed and does not run again", key, "nodes")
    flow = Workflow()
    kept: dict[str, list[str]] = {}
    for key, job in state.jobs.items():
        if key in done or job is None:
            continue
        after = record.after.get(key, [])
        on_failure: OnParentFailure = "ignore" if key in record.ignore else "fail"
        data = inputs.get(key, job.input)
        node = Task(job.name, data, job.queue, job.priority, on_failure)
        flow.add_task(key, node, [p for p in after if p not in done])
        kept[key] = [record.nodes[p] for p in after if p in done]
    # Only one retry of this generation writes (see the module doc).
    fence = f"{record_key(state.id)}:retry:{record.retries}"
    if not await redis.set(fence, "1", nx=True, px=FENCE_MS):
        raise RetryInProgress(f"workflow {state.id} is being retried already")
    created = await enqueue_workflow(
        redis,
        flow,
        settings,
        kind=record.kind,
        callbacks=record.callbacks,
        catalog=catalog,
        limit=len(record.nodes),
        max_edges=sum(len(a) for a in record.after.values()),
        callback_url=record.callback_url,
        retry_of=RetryOf(state.id, record, kept),
    )
    return Retried(state.id, dict(created.jobs), sorted(done))
