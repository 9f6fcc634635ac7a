"""`POST /batches`, `GET /batches/{id}`: many jobs as one, with callbacks once all are final.

`on_success` runs only if every job completes (else it fails `ParentFailed` without running);
`on_complete` runs once all are final, whatever the outcome. Both are released exactly once,
and read the batch's figures in `ctx.batch` (`jobs.graph.batches`). Validated and written all or
nothing, like a workflow; more than `MAX_BATCH_JOBS` jobs is a 413.
"""

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status
from pydantic import Field, StringConstraints

from jobs.declare.models import Model
from jobs.enqueue.plan import MAX_PRIORITY
from jobs.graph.batches import create_batch, summarize
from jobs.graph.workflows import Task, WorkflowStatus, task
from service.deps import CatalogDep, RedisDep, SettingsDep
from service.errors import (
    BatchNotFound,
    PayloadTooLarge,
    WorkflowNotFound,
)
from service.routes.workflows import (
    CALLBACK_TEXT,
    QUEUE_PATTERN,
    CallbackUrl,
    WorkflowId,
    graph_errors,
    load_state,
    strict_input_errors,
)
from service.schemas import ERROR_RESPONSES, JobView, error_response

router = APIRouter(tags=["workflows"], responses=ERROR_RESPONSES)
logger = logging.getLogger("service")


class BatchJob(Model):
    job: str
    """The job's name (see `/job-types`)."""
    input: Any = None
    queue: Annotated[str, StringConstraints(pattern=QUEUE_PATTERN)] | None = None
    priority: int = Field(default=0, ge=0, le=MAX_PRIORITY)


class BatchIn(Model):
    jobs: list[BatchJob] = Field(min_length=1)
    on_success: BatchJob | None = None
    """Runs once, after every job completed (not if one failed or was aborted)."""
    on_complete: BatchJob | None = None
    """Runs once, after every job is final, whatever the outcome."""
    callback_url: CallbackUrl | None = Field(default=None, description=CALLBACK_TEXT)


class BatchView(Model):
    id: str
    status: WorkflowStatus
    """Of the jobs and callbacks together (as for a workflow)."""
    created_at: datetime
    total: int
    pending: int
    complete: int
    failed: int
    aborted: int
    jobs: list[str]
    """The jobs' ids, in the order given."""
    on_success: JobView | None = None
    on_complete: JobView | None = None
    webhook_job: str | None = None
    """With a `callback_url`: the job whose webhook reports the batch."""


def _task(j: BatchJob) -> Task:
    return task(j.job, j.input, queue=j.queue, priority=j.priority)


async def _view(
    redis: RedisDep, catalog: CatalogDep, settings: SettingsDep, batch_id: str
) -> BatchView:
    try:
        state = await load_state(redis, catalog, settings, batch_id)
    except WorkflowNotFound:
        state = None
    if state is None or state.record.kind != "batch":
        raise BatchNotFound(f"no batch {batch_id!r} (unknown or expired)")
    s = summarize(state)
    members = [job_id for key, job_id in state.record.nodes.items() if key.isdigit()]
    return BatchView(
        id=s.id,
        status=state.status,
        created_at=datetime.fromtimestamp(state.record.created_ms / 1000, UTC),
        total=s.total,
        pending=s.pending,
        complete=s.complete,
        failed=s.failed,
        aborted=s.aborted,
        jobs=members,
        on_success=s.callbacks.get("on_success"),
        on_complete=s.callbacks.get("on_complete"),
        webhook_job=state.record.done,
    )


@router.post(
    "/batches",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        status.HTTP_400_BAD_REQUEST: error_response("The body is not JSON (or not UTF-8)."),
        status.HTTP_413_CONTENT_TOO_LARGE: error_response("Too many jobs."),
    },
)
async def create_batch_route(
    body: BatchIn,
    request: Request,
    response: Response,
    redis: RedisDep,
    catalog: CatalogDep,
    settings: SettingsDep,
) -> BatchView:
    """Enqueue many jobs as one batch, with optional `on_success` / `on_complete` callback
    jobs; validated whole (422 names the job by index, or the callback), all or nothing.
    `Location` is the batch's URL."""
    if len(body.jobs) > settings.max_batch_jobs:
        raise PayloadTooLarge(
            f"{len(body.jobs)} jobs; at most {settings.max_batch_jobs} (MAX_BATCH_JOBS)"
        )
    named = {str(i): j for i, j in enumerate(body.jobs)}
    for name in ("on_success", "on_complete"):
        callback = getattr(body, name)
        if callback is not None:
            named[name] = callback
    strict_input_errors(catalog, {k: (j.job, j.input) for k, j in named.items()})
    with graph_errors():
        created = await create_batch(
            redis,
            settings,
            [_task(j) for j in body.jobs],
            on_success=_task(body.on_success) if body.on_success else None,
            on_complete=_task(body.on_complete) if body.on_complete else None,
            catalog=catalog,
            callback_url=body.callback_url,
        )
    logger.info("batch enqueued", extra={"batch": created.id, "count": len(created.jobs)})
    response.headers["Location"] = f"{request.scope.get('root_path', '')}/batches/{created.id}"
    return await _view(redis, catalog, settings, created.id)


@router.get("/batches/{batch_id}")
async def get_batch(
    batch_id: WorkflowId, redis: RedisDep, catalog: CatalogDep, settings: SettingsDep
) -> BatchView:
    """A batch's figures (total, pending, complete, failed, aborted) and its callbacks' jobs."""
    return await _view(redis, catalog, settings, batch_id)
