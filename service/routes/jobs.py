"""Follow, abort, retry and list jobs (enqueueing is in `enqueue.py`)."""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import ValidationError

from jobs import keys
from jobs.abort import abort
from jobs.enqueue import enqueue
from jobs.store import JobRecord, JobStatus, load_jobs
from service.deps import ArqDep, CatalogDep, HubDep, SettingsDep
from service.errors import JobNotFound, JobStateConflict, JobTypeNotFound
from service.schemas import ERROR_RESPONSES, ErrorResponse, JobPage, JobView
from service.views import load_view, max_tries_by_name

router = APIRouter(tags=["jobs"], responses=ERROR_RESPONSES)
logger = logging.getLogger("service")

JobId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[\w:.\-]+$")]


@router.get("/jobs/{job_id}")
async def get_job(
    job_id: JobId,
    redis: ArqDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    hub: HubDep,
    wait: Annotated[
        float, Query(ge=0, le=60, description="Wait up to this many seconds for a final state.")
    ] = 0,
) -> JobView:
    """A job's status, tries, progress, input and result or error."""
    view = await load_view(redis, catalog, settings, job_id)
    if view.status.is_final or wait <= 0:
        return view
    deadline = time.monotonic() + min(wait, settings.max_wait_s)
    async with hub.watch(job_id) as changed:
        while not view.status.is_final:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # A deferred job's due time is a change nobody publishes: wake up for it too.
            if view.scheduled_for is not None:
                remaining = min(remaining, max(view.scheduled_for.timestamp() - time.time(), 0.05))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
            changed.clear()
            view = await load_view(redis, catalog, settings, job_id)
    return view


async def _existing_job(
    job_id: JobId, redis: ArqDep, catalog: CatalogDep, settings: SettingsDep
) -> JobView:
    return await load_view(redis, catalog, settings, job_id)


@router.get("/jobs/{job_id}/events", response_class=EventSourceResponse)
async def job_events(
    view: Annotated[JobView, Depends(_existing_job)],
    redis: ArqDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    hub: HubDep,
) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: the JobView on every change of status or progress, then the end at a
    final state. Changes arrive by pub/sub from the workers, not by polling."""
    async with hub.watch(view.id) as changed:
        last = None
        while True:
            key = (view.status, view.tries, view.progress)
            if key != last:
                yield ServerSentEvent(
                    data=view.model_dump(mode="json"), event="job", id=str(view.tries)
                )
                last = key
            if view.status.is_final:
                return
            # A deferred job coming due is a change nobody publishes: wake for it too.
            timeout = None
            if view.scheduled_for is not None:
                timeout = max(view.scheduled_for.timestamp() - time.time(), 0.05)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout)
            changed.clear()
            try:
                view = await load_view(redis, catalog, settings, view.id)
            except JobNotFound:
                return


ABORT_WAIT_S = 5.0
"""How long `DELETE` waits for the worker holding a running job to cancel it."""


@router.delete(
    "/jobs/{job_id}",
    status_code=status.HTTP_202_ACCEPTED,
    responses={status.HTTP_409_CONFLICT: {"model": ErrorResponse}},
)
async def abort_job(
    job_id: JobId, redis: ArqDep, catalog: CatalogDep, settings: SettingsDep, hub: HubDep
) -> JobView:
    """Abort: a queued or deferred job never starts; a running one is cancelled, and the answer
    waits (a few seconds at most) until its worker has done so. 409 if the job is final, also
    when it finished before its worker could cancel it (the details carry its status)."""
    async with hub.watch(job_id) as changed:
        outcome = await abort(redis, job_id, settings)
        if outcome == "final":
            raise JobStateConflict(f"job {job_id} is already final")
        if outcome == "missing":
            raise JobNotFound(f"no job {job_id!r} (unknown or expired)")
        view = await load_view(redis, catalog, settings, job_id)
        deadline = time.monotonic() + ABORT_WAIT_S
        while outcome == "running" and not view.status.is_final:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return view  # still running: abort_requested is true, the worker will act
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
            changed.clear()
            view = await load_view(redis, catalog, settings, job_id)
    if view.status is not JobStatus.aborted:
        raise JobStateConflict(
            f"job {job_id} ended {view.status} before the abort took effect",
            details={"status": view.status},
        )
    return view


@router.post("/jobs/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_job(
    job_id: JobId, response: Response, redis: ArqDep, catalog: CatalogDep, settings: SettingsDep
) -> JobView:
    """Run a failed or aborted job again: a new job with the same input."""
    view = await load_view(redis, catalog, settings, job_id)
    if view.status not in (JobStatus.failed, JobStatus.aborted):
        raise JobStateConflict(
            f"only failed or aborted jobs can be retried; this one is {view.status}"
        )
    spec = catalog.get(view.name)
    if spec is None:
        raise JobTypeNotFound(f"job type {view.name!r} no longer exists")
    try:
        payload = spec.input_model.model_validate(view.input)
    except ValidationError as exc:
        raise JobStateConflict(
            f"the stored input no longer matches {spec.name}'s input model",
            details=exc.errors(include_url=False, include_context=False),
        ) from None
    enqueued = await enqueue(redis, spec, payload, settings=settings)
    logger.info(
        "job enqueued", extra={"job_id": enqueued.job_id, "job": spec.name, "retry_of": job_id}
    )
    response.headers["Location"] = f"/jobs/{enqueued.job_id}"
    return await load_view(redis, catalog, settings, enqueued.job_id)


@router.get("/jobs")
async def list_jobs(
    redis: ArqDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(pattern=r"^\d+(:\d+)?$", description="From the previous page.")
    ] = None,
) -> JobPage:
    """Jobs, newest first, optionally filtered by status and name."""
    source = keys.FAILED if status_ in (JobStatus.failed, JobStatus.aborted) else keys.INDEX
    # Cursor "score:n": continue at `score` (ms), after the first n entries that share it.
    score, count = None, 0
    if cursor:
        head, _, tail = cursor.partition(":")
        score, count = int(head), int(tail or 0)
    found: list[JobRecord] = []
    scanned, budget, chunk = 0, max(limit * 20, 1000), max(limit, 100)
    exhausted = False
    max_tries = max_tries_by_name(catalog)
    while len(found) < limit and scanned < budget:
        rows = await redis.zrevrangebyscore(
            source,
            "+inf" if score is None else score,
            "-inf",
            start=count,
            num=chunk,
            withscores=True,
        )
        records = await load_jobs(
            redis, [m.decode() for m, _ in rows], settings.queue_name, max_tries
        )
        used = 0
        for (_, row_score), record in zip(rows, records, strict=True):
            used += 1
            if int(row_score) == score:
                count += 1
            else:
                score, count = int(row_score), 1
            if record is None or (status_ is not None and record.status is not status_):
                continue
            if name is not None and record.name != name:
                continue
            found.append(record)
            if len(found) == limit:
                break
        scanned += used
        if len(rows) < chunk and used == len(rows):
            exhausted = True
            break
    next_cursor = None if exhausted or score is None else f"{score}:{count}"
    return JobPage(jobs=found, next_cursor=next_cursor)
