"""`jobsvc.workflow_gate`: the commit gate of a workflow created on a Redis Cluster.

A workflow's jobs live on several slots there, so no one transaction can write them all
(`jobs.workflow_commit`): every node waits for this gate, and the gate waits for a parent that
is never a job. Creating the workflow ends with one atomic step that releases the gate as if
that parent had completed; the gate then runs (it does nothing), completes and releases the
nodes. If the creator dies before that step, the dependency sweep finds the parent missing:
the gate fails, and so does every node, without starting.
"""

from jobs.context import JobContext
from jobs.models import Model
from jobs.registry import job


class Gate(Model):
    """No input: the gate's id names its workflow."""


class Opened(Model):
    """No output."""


@job(name="jobsvc.workflow_gate", max_tries=5, internal=True)
async def workflow_gate(ctx: JobContext, payload: Gate) -> Opened:
    """Open a committed workflow: completing releases its jobs."""
    return Opened()
