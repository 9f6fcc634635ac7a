"""`POST /workflows`, `GET /workflows/{id}`: a small graph of jobs, enqueued all or nothing.

The graph is validated whole before anything is written (`jobs.graph.workflows`): an unknown job, an
input its model refuses, an `after` naming no node, or a cycle is a 422 naming the node (and
the field, or the cycle); more than `MAX_WORKFLOW_NODES` nodes a 413. Then every node is
written in one transaction (one Redis), or behind a commit gate released in one step (Redis
Cluster): see `jobs.graph.workflow_commit`.
"""

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import Field, StringConstraints

from jobs.declare.models import Model
from jobs.declare.registry import JobSpec
from jobs.enqueue.plan import MAX_PRIORITY
from jobs.graph.dependencies import OnParentFailure
from jobs.graph.edge_limit import check_edges
from jobs.graph.workflow_commit import enqueue_workflow
from jobs.graph.workflow_retry import RetryRefused, retry_workflow
from jobs.graph.workflows import (
    InvalidWorkflow,
    NodeQueuePinned,
    NodeUnknownQueue,
    Workflow,
    WorkflowNotCommitted,
    WorkflowState,
    WorkflowStatus,
    WorkflowTooLarge,
    load,
)
from jobs.graph.workflows import task as make_task
from jobs.layout.connection import RedisClient
from jobs.layout.ids import JOB_ID, QUEUE_NAME
from jobs.reading.job_record import JobStatus
from jobs.settings import Settings
from jobs.webhooks.url_policy import MAX_URL_LENGTH
from service.declared import names_known_queue
from service.deps import CatalogDep, RedisDep, SettingsDep
from service.errors import (
    InvalidInput,
    InvalidRequest,
    PayloadTooLarge,
    QueuePinnedError,
    ServiceError,
    UnknownQueueError,
    WorkflowNotCommittedError,
    WorkflowNotFound,
    WorkflowRetryRefused,
)
from service.routes.enqueue import item_errors
from service.schemas import ERROR_RESPONSES, JobView, error_response
from service.serving import QueueServing
from service.views import max_tries_by_name, reads_legacy

QUEUE_PATTERN = f"^{QUEUE_NAME.pattern}$"
router = APIRouter(tags=["workflows"], responses=ERROR_RESPONSES)
logger = logging.getLogger("service")

WorkflowId = Annotated[str, Path(min_length=1, max_length=265, pattern=JOB_ID.pattern)]


NodeKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class NodeIn(Model):
    """One node: a job, its input and options, and the nodes it waits for."""

    job: str
    """The job's name (see `/job-types`)."""
    input: Any = None
    """The job's input (validated against its model)."""
    queue: Annotated[str, StringConstraints(pattern=QUEUE_PATTERN)] | None = None
    priority: int = Field(default=0, ge=0, le=MAX_PRIORITY)
    on_parent_failure: OnParentFailure = "fail"
    """What a parent that did not complete means: `fail` (this job fails `ParentFailed`,
    without starting) or `ignore` (it runs anyway)."""
    after: list[NodeKey] = Field(default_factory=list)
    """Keys of the nodes this one waits for."""


CallbackUrl = Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL_LENGTH)]
CALLBACK_TEXT = (
    "Once every job is final, POST the JobView of its report job (`jobsvc.workflow_done`, "
    "`webhook_job`: `result` says the status and each job's outcome) here, signed, as "
    "`callback_url` on `POST /jobs/{name}` does (same rules and 422s)."
)


class WorkflowIn(Model):
    nodes: dict[NodeKey, NodeIn] = Field(min_length=1)
    """Nodes by key (`[A-Za-z0-9_.:-]{1,64}`)."""
    callback_url: CallbackUrl | None = Field(default=None, description=CALLBACK_TEXT)


VIEW_MAX_NODES = 100
"""Past this many nodes a workflow view is compact: each node's id and status, no JobViews and
no `after` lists (a view of 1,000 nodes and 121,485 edges was 4.9 MB on every GET)."""


class NodeView(Model):
    job_id: str
    status: JobStatus | None = None
    """The job's status now (null once its record has expired)."""
    after: list[str] | None
    """Keys of the nodes it waits for (null in a compact view)."""
    job: JobView | None
    """The job as it is now (null once its record has expired, and in a compact view: read it
    at `job_url`)."""


class WorkflowView(Model):
    id: str
    status: WorkflowStatus
    """`complete` when every node is; `failed` when every node is final and one did not
    complete; `running` otherwise."""
    created_at: datetime
    nodes: dict[str, NodeView]
    compact: bool = False
    """More than 100 nodes: `nodes` holds ids and statuses only (`after` and `job` null)."""
    edges: int = 0
    """How many `after` edges the graph has."""
    job_url: str = "/jobs/{id}"
    """Where each node's job is read (under the service's prefix)."""
    webhook_job: str | None = None
    """With a `callback_url`: the job whose webhook reports the workflow (its delivery
    attempts: `GET /jobs/{webhook_job}/deliveries`)."""


def service_error(exc: InvalidWorkflow) -> ServiceError:
    """The API's error for a graph the jobs layer refused (nothing was written)."""
    details = exc.details
    if isinstance(exc, WorkflowTooLarge):
        return PayloadTooLarge(str(exc), details)
    if isinstance(exc, NodeQueuePinned):
        return QueuePinnedError(str(exc), details)
    if isinstance(exc, NodeUnknownQueue):
        return UnknownQueueError(str(exc), details)
    if exc.field == "input":  # a node's job input: the same mistake as on `POST /jobs/{name}`
        return InvalidInput(str(exc), details)
    return InvalidRequest(str(exc), details)


@contextlib.contextmanager
def graph_errors() -> Iterator[None]:
    """The API's errors for a graph the jobs layer refused (nothing was written) or, on a
    Cluster, could not commit in time (nothing runs)."""
    try:
        yield
    except InvalidWorkflow as exc:
        raise service_error(exc) from None
    except WorkflowNotCommitted as exc:
        raise WorkflowNotCommittedError(str(exc)) from None


def strict_input_errors(
    catalog: Mapping[str, JobSpec], nodes: Mapping[str, tuple[str, Any]]
) -> None:
    """What the lax models would take but the published schemas refuse (`"1"` for an int):
    the routes for single jobs refuse it, so do these."""
    for key, (name, data) in nodes.items():
        spec = catalog.get(name)
        if spec is None or spec.internal:
            continue  # the jobs layer names it
        errors = item_errors(spec, json.dumps(data if data is not None else {}).encode())
        if errors:
            problems = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in errors]
            message = f"node {key!r}: input is invalid"
            raise InvalidInput(message, {"node": key, "field": "input", "errors": problems})


def workflow_view(state: WorkflowState, root_path: str = "") -> WorkflowView:
    """The view of a workflow: every node's JobView up to `VIEW_MAX_NODES` nodes, past it
    compact (ids and statuses, read each job at `job_url`)."""
    record = state.record
    compact = len(record.nodes) > VIEW_MAX_NODES
    nodes = {}
    for key, job_id in record.nodes.items():
        job = state.jobs[key]
        status = job.status if job is not None else None
        if compact:
            nodes[key] = NodeView(job_id=job_id, status=status, after=None, job=None)
        else:
            after = record.after.get(key, [])
            nodes[key] = NodeView(job_id=job_id, status=status, after=after, job=job)
    return WorkflowView(
        id=state.id,
        status=state.status,
        created_at=datetime.fromtimestamp(record.created_ms / 1000, UTC),
        webhook_job=record.done,
        nodes=nodes,
        compact=compact,
        edges=sum(len(after) for after in record.after.values()),
        job_url=f"{root_path}/jobs/{{id}}",
    )


async def load_state(
    redis: RedisClient, catalog: dict[str, JobSpec], settings: Settings, workflow_id: str
) -> WorkflowState:
    state = None
    # A workflow id names its queue too: on one nothing declares, no key is read.
    if await names_known_queue(redis, catalog, settings, workflow_id):
        state = await load(
            redis, workflow_id, max_tries_by_name(catalog), legacy=reads_legacy(settings)
        )
    if state is None:
        raise WorkflowNotFound(f"no workflow {workflow_id!r} (unknown or expired)")
    return state


@router.post(
    "/workflows",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        status.HTTP_400_BAD_REQUEST: error_response("The body is not JSON (or not UTF-8)."),
        status.HTTP_413_CONTENT_TOO_LARGE: error_response(
            "Too many nodes (`payload_too_large`) or edges (`too_many_edges`)."
        ),
    },
)
async def create_workflow(
    body: WorkflowIn,
    request: Request,
    response: Response,
    redis: RedisDep,
    catalog: CatalogDep,
    settings: SettingsDep,
) -> WorkflowView:
    """Enqueue a graph of jobs all or nothing: every node validated first (422 names the node
    and the field, or the cycle; 413 past `MAX_WORKFLOW_NODES`, or `too_many_edges` past
    `MAX_EDGES_PER_REQUEST` edges); roots start at once, the others when their `after` nodes
    are final. `Location` is the workflow's URL. The answer is the workflow's view (compact
    past 100 nodes)."""
    if len(body.nodes) > settings.max_workflow_nodes:
        raise PayloadTooLarge(
            f"{len(body.nodes)} nodes; at most {settings.max_workflow_nodes} (MAX_WORKFLOW_NODES)"
        )
    # Refused before any other work on the graph (validation checks it again: other callers).
    edges = sum(len(n.after) for n in body.nodes.values())
    check_edges(edges, settings.max_edges_per_request, f"a workflow of {len(body.nodes)} nodes")
    strict_input_errors(catalog, {k: (n.job, n.input) for k, n in body.nodes.items()})
    flow = Workflow()
    with graph_errors():
        for key, node in body.nodes.items():
            flow.add_task(
                key,
                make_task(
                    node.job,
                    node.input,
                    queue=node.queue,
                    priority=node.priority,
                    on_parent_failure=node.on_parent_failure,
                ),
                node.after,
            )
        created = await enqueue_workflow(
            redis, flow, settings, catalog=catalog, callback_url=body.callback_url
        )
    logger.info("workflow enqueued", extra={"workflow": created.id, "count": len(created.jobs)})
    response.headers["Location"] = f"{request.scope.get('root_path', '')}/workflows/{created.id}"
    state = await load_state(redis, catalog, settings, created.id)
    serving: QueueServing = request.app.state.queue_serving
    await serving.warn(redis, response, (j.queue for j in state.jobs.values() if j))
    return workflow_view(state, request.scope.get("root_path", ""))


@router.get("/workflows/{workflow_id}")
async def get_workflow(
    workflow_id: WorkflowId,
    request: Request,
    redis: RedisDep,
    catalog: CatalogDep,
    settings: SettingsDep,
) -> WorkflowView:
    """A workflow's status and each node's job as it is now (also a batch's, by its id).
    Past 100 nodes the view is compact: each node's id and status (`compact: true`)."""
    state = await load_state(redis, catalog, settings, workflow_id)
    return workflow_view(state, request.scope.get("root_path", ""))


class NodeRetryIn(Model):
    input: Any = None
    """The node's corrected input (validated against its job's model), instead of its stored
    one."""


class WorkflowRetryIn(Model):
    nodes: dict[NodeKey, NodeRetryIn] = Field(
        default_factory=dict, json_schema_extra={"additionalProperties": False}
    )
    """Corrected inputs by node key; only nodes that are rerun may be named."""


@router.post(
    "/workflows/{workflow_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        status.HTTP_400_BAD_REQUEST: error_response("The body is not JSON (or not UTF-8)."),
        status.HTTP_409_CONFLICT: error_response(
            "Not retryable now (`workflow_not_retryable`, `details.reason`: "
            "`workflow_running`, `workflow_complete`, `workflow_expired`, `retry_in_progress`)."
        ),
    },
)
async def retry_workflow_route(
    workflow_id: WorkflowId,
    request: Request,
    response: Response,
    redis: RedisDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    body: WorkflowRetryIn | None = None,
) -> WorkflowView:
    """Rerun a final workflow's (or batch's) failed, aborted and never-started nodes as new
    jobs; completed nodes keep their results and do not run again, and the rerun nodes read
    them as parents. A node may get a corrected input (`{"nodes": {"b": {"input": {...}}}}`,
    checked like an enqueue: 422 names the node). The workflow keeps its id and reads
    `running`, then `complete` if the reruns do; with a `callback_url` it reports again.
    409 while it runs, once it completed, when a node's record expired, or when another retry
    of it won. The answer is the workflow's view."""
    state = await load_state(redis, catalog, settings, workflow_id)
    inputs = {key: node.input for key, node in (body.nodes if body else {}).items()}
    names = {key: state.jobs[key] for key in inputs if key in state.jobs}
    strict_input_errors(catalog, {k: (j.name, inputs[k]) for k, j in names.items() if j})
    try:
        with graph_errors():
            retried = await retry_workflow(redis, state, settings, inputs=inputs, catalog=catalog)
    except RetryRefused as exc:
        raise WorkflowRetryRefused(str(exc), {"reason": exc.code}) from None
    logger.info("workflow retried", extra={"workflow": retried.id, "count": len(retried.rerun)})
    response.headers["Location"] = f"{request.scope.get('root_path', '')}/workflows/{retried.id}"
    state = await load_state(redis, catalog, settings, retried.id)
    return workflow_view(state, request.scope.get("root_path", ""))
