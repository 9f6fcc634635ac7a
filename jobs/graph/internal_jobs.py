"""The internal jobs of workflows and batches (`jobs.graph.workflows`,
`jobs.graph.workflow_commit`).

`jobsvc.workflow_gate`: the commit gate of a workflow created on a Redis Cluster. A
workflow's jobs live on several slots there, so no one transaction can write them all: every
node waits for this gate, and the gate waits for a parent that is never a job. Creating the
workflow ends with one atomic step that releases the gate as if that parent had completed; the
gate then runs (it does nothing), completes and releases the nodes. If the creator dies before
that step, the dependency sweep finds the parent missing: the gate fails, and so does every
node, without starting.

`jobsvc.workflow_done`: with a `callback_url`, runs once every node is final (it waits for all
of them, `ignore`) and returns the workflow's outcome; its completion webhook (that URL) posts
its JobView, whose `result` is that outcome.
"""

from typing import Literal

from jobs.declare.context import JobContext
from jobs.declare.job_errors import JobFailed
from jobs.declare.models import Model
from jobs.declare.registry import job
from jobs.layout import keys
from jobs.layout.records import Poison, WorkflowRecord


class Gate(Model):
    """No input: the gate's id names its workflow."""


class GateOpened(Model):
    """No output."""


@job(name="jobsvc.workflow_gate", max_tries=5, internal=True)
async def workflow_gate(ctx: JobContext, payload: Gate) -> GateOpened:
    """Open a committed workflow: completing releases its jobs."""
    return GateOpened()


class Done(Model):
    workflow_id: str


class WorkflowOutcome(Model):
    workflow_id: str
    kind: str
    """"workflow" or "batch"."""
    status: Literal["complete", "failed"]
    """complete: every job completed; failed: one did not (failed, aborted or gone)."""
    total: int
    complete: int
    failed: int
    aborted: int
    jobs: dict[str, str]
    """Node key (a batch's jobs: "0", "1", ...; its callbacks by name) -> final status."""


@job(name="jobsvc.workflow_done", max_tries=5, internal=True)
async def workflow_done(ctx: JobContext, payload: Done) -> WorkflowOutcome:
    """Report a workflow or batch whose jobs are all final (for its completion webhook)."""
    workflow_id = payload.workflow_id
    raw = await ctx.redis.get(keys.of_job(workflow_id).workflow(workflow_id))
    record = WorkflowRecord.load(raw) if raw is not None else None
    if record is None or isinstance(record, Poison):
        raise JobFailed(f"workflow {workflow_id} is gone (expired?)")
    statuses = ctx.parent_statuses
    jobs = {key: statuses.get(job_id, "missing") for key, job_id in record.nodes.items()}
    counts = {"complete": 0, "failed": 0, "aborted": 0}
    for status in jobs.values():
        counts[status if status in counts else "failed"] += 1
    return WorkflowOutcome(
        workflow_id=workflow_id,
        kind=record.kind,
        status="complete" if counts["complete"] == len(jobs) else "failed",
        total=len(jobs),
        jobs=jobs,
        **counts,
    )
