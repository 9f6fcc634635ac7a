"""Workflows: a small graph of jobs, validated whole and enqueued all or nothing.

    flow = Workflow()
    flow.add("fetch", fetch_page, FetchPage(url=...))
    flow.add("parse", parse_page, ParsePage(), after=["fetch"])
    flow.add("notify", send_email, SendEmail(...), after=["parse"], on_parent_failure="ignore")
    created = await enqueue_workflow(redis, flow, settings)  # created.jobs["parse"] is a job id

or with the helpers: `chain(task(a, ...), task(b, ...))`, `group(...)`, `chord(header,
callback)`. Each node is a job (name or function), its input, and the options of
`enqueue(..., after=...)`: `queue`, `priority`, `on_parent_failure`; its `after` names other
nodes by key. The whole graph is checked before anything is written
(`jobs.graph.workflow_validation`: every job known and not internal, unique or debounced; every
input valid; every `after` key a node; no cycle; at most `MAX_WORKFLOW_NODES` nodes):
`InvalidWorkflow` names the node and the field.

What is atomic when (`jobs.graph.workflow_commit`):
- on one Redis (or Sentinel): every job, every link between them and the workflow's record
  are written in ONE MULTI/EXEC transaction (the scripts are sent with EVAL inside it, so no
  NOSCRIPT can leave half of it applied): a crash leaves all of it or none.
- on a Redis Cluster the jobs of several queues live on several slots, and redis-py has no
  cluster transactions: the nodes are written one queue at a time, all waiting for a commit
  gate (`jobsvc.workflow_gate`, in the workflow's slot) that waits for a parent that is not a
  job; then ONE script call (`release.lua`) releases the gate: that is the commit. A crash
  before it leaves nothing that runs: the dependency sweep finds the gate's parent missing
  and fails the gate, and with it every node (`ParentFailed`, never started). A creation
  slower than `DEPENDENCY_SWEEP_S` loses that race too and raises `WorkflowNotCommitted`.

A workflow's id names its first root's queue like a job id does (`<unique>@<queue>`), and its
record (`records.WorkflowRecord`: node key -> job id, edges, creation time) is kept beside
that queue's keys for as long as its jobs may wait plus the longest result retention.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from jobs.declare.registry import JobSpec
from jobs.graph.dependencies import OnParentFailure
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.layout.ids import InvalidQueueName
from jobs.layout.records import Poison, WorkflowRecord
from jobs.reading.job_record import JobRecord, JobStatus, load_jobs

JobRef = str | JobSpec | Callable[..., Any]
"""A job by name, by spec, or by its function."""
WorkflowStatus = Literal["running", "complete", "failed"]


class InvalidWorkflow(ValueError):
    """The graph cannot be enqueued; nothing was written. `node` and `field` say where."""

    code = "invalid_workflow"

    def __init__(
        self, message: str, node: str | None = None, field: str | None = None, errors: Any = None
    ) -> None:
        super().__init__(f"node {node!r}: {message}" if node is not None else message)
        self.node = node
        self.field = field
        self.details: dict[str, Any] = {"node": node, "field": field}
        if errors is not None:
            self.details["errors"] = errors


class NodeQueuePinned(InvalidWorkflow):
    """A node names another queue for a job whose limits live on its declared queue."""

    code = "queue_pinned"


class NodeUnknownQueue(InvalidWorkflow):
    """A node names a queue nothing declares (`jobs.declare.queues`)."""

    code = "unknown_queue"


class WorkflowTooLarge(InvalidWorkflow):
    code = "payload_too_large"


class WorkflowNotCommitted(RuntimeError):
    """Redis Cluster path: the sweep failed the commit gate before the commit (creation took
    longer than `DEPENDENCY_SWEEP_S`): every node fails without starting; nothing runs."""


@dataclass(frozen=True, slots=True)
class Task:
    """One job to run, not yet placed in a graph."""

    job: JobRef
    input: BaseModel | dict[str, Any] | None = None
    queue: str | None = None
    priority: int = 0
    on_parent_failure: OnParentFailure = "fail"


def task(
    job: JobRef,
    input: BaseModel | dict[str, Any] | None = None,
    *,
    queue: str | None = None,
    priority: int = 0,
    on_parent_failure: OnParentFailure = "fail",
) -> Task:
    return Task(job, input, queue, priority, on_parent_failure)


@dataclass(frozen=True, slots=True)
class Node:
    task: Task
    after: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Created:
    """A workflow (or batch) as written: its id, and each node key's job id."""

    id: str
    jobs: dict[str, str]
    gate: str | None = None
    done: str | None = None
    """With a `callback_url`: the job whose completion webhook reports the workflow (its
    deliveries: `GET /jobs/{done}/deliveries`)."""


@dataclass
class Workflow:
    """A graph of jobs by node key (insertion order is kept)."""

    nodes: dict[str, Node] = field(default_factory=dict)

    def add(
        self,
        key: str,
        job: JobRef,
        input: BaseModel | dict[str, Any] | None = None,
        *,
        after: Sequence[str] = (),
        queue: str | None = None,
        priority: int = 0,
        on_parent_failure: OnParentFailure = "fail",
    ) -> str:
        """Add a node; returns its key (for `after=` of later nodes)."""
        return self.add_task(key, Task(job, input, queue, priority, on_parent_failure), after)

    def add_task(self, key: str, node: Task, after: Sequence[str] = ()) -> str:
        if key in self.nodes:
            raise InvalidWorkflow("a node with this key exists already", key, "key")
        if isinstance(after, str):
            raise InvalidWorkflow("after is a list of node keys, not one string", key, "after")
        self.nodes[key] = Node(node, tuple(dict.fromkeys(after)))
        return key

    def sinks(self) -> list[str]:
        """The nodes no other node waits for."""
        waited = {p for n in self.nodes.values() for p in n.after}
        return [k for k in self.nodes if k not in waited]


def chain(*tasks: Task) -> Workflow:
    """Each task after the one before (keys "0", "1", ...)."""
    flow = Workflow()
    for i, t in enumerate(tasks):
        flow.add_task(str(i), t, [str(i - 1)] if i else [])
    return flow


def group(*tasks: Task) -> Workflow:
    """Independent tasks (keys "0", "1", ...)."""
    flow = Workflow()
    for i, t in enumerate(tasks):
        flow.add_task(str(i), t)
    return flow


def chord(header: Workflow | Sequence[Task], callback: Task, key: str = "callback") -> Workflow:
    """`header` (a workflow, or tasks run as a group), then `callback` after all its sinks."""
    flow = header if isinstance(header, Workflow) else group(*header)
    flow.add_task(key, callback, flow.sinks())
    return flow


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkflowState:
    id: str
    record: WorkflowRecord
    jobs: dict[str, JobRecord | None]
    """Node key -> its job as it is now (None: unknown or expired)."""

    @property
    def status(self) -> WorkflowStatus:
        """complete: every node complete; failed: every node final and one did not complete
        (failed, aborted, or gone); otherwise running (some node is waiting, queued, or
        running)."""
        jobs = list(self.jobs.values())
        if all(j is not None and j.status is JobStatus.complete for j in jobs):
            return "complete"
        if all(j is None or j.status.is_final for j in jobs):
            return "failed"
        return "running"


def record_key(workflow_id: str) -> str:
    return keys.of_job(workflow_id).workflow(workflow_id)


async def load(
    redis: RedisClient, workflow_id: str, max_tries: dict[str, int], *, legacy: bool = False
) -> WorkflowState | None:
    """A workflow or batch and each of its jobs, or None (unknown, expired, or not ours)."""
    if not keys.JOB_ID.match(workflow_id):
        return None
    try:
        raw = await redis.get(record_key(workflow_id))
    except InvalidQueueName:
        return None
    if raw is None:
        return None
    record = WorkflowRecord.load(raw)
    if isinstance(record, Poison):
        return None
    found = await load_jobs(redis, list(record.nodes.values()), max_tries, legacy=legacy)
    return WorkflowState(workflow_id, record, dict(zip(record.nodes, found, strict=True)))
