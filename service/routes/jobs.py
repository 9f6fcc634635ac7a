"""Follow, abort, retry and list jobs (enqueueing is in `enqueue.py`)."""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import ValidationError

from jobs.declare.registry import JobSpec
from jobs.enqueue.abort import abort
from jobs.enqueue.submit import enqueue
from jobs.layout.connection import RedisClient
from jobs.layout.ids import JOB_ID, InvalidQueueName
from jobs.reading import listing
from jobs.reading.job_record import JobStatus
from jobs.reading.queues import queue_names
from jobs.settings import Settings
from service.declared import declared_queues, known_queue, names_known_queue
from service.deps import (
    CatalogDep,
    HubDep,
    RedisDep,
    SettingsDep,
    StreamSlotsDep,
    hold_stream_slot,
)
from service.enqueue_options import Rfc3339DateTime
from service.errors import InvalidRequest, JobNotFound, JobStateConflict, JobTypeNotFound
from service.events import EventHub
from service.schemas import ERROR_RESPONSES, ErrorResponse, JobPage, JobView
from service.streams import changed_or_gone, until_disconnected
from service.views import job_location, load_view, max_tries_by_name, reads_legacy

router = APIRouter(tags=["jobs"], responses=ERROR_RESPONSES)
logger = logging.getLogger("service")

JobId = Annotated[str, Path(min_length=1, max_length=265, pattern=JOB_ID.pattern)]


async def known_queues(redis: RedisClient, catalog: CatalogDep, settings: Settings) -> list[str]:
    """Queues that may hold jobs: those ever enqueued to, and the declared ones."""
    return await queue_names(redis, declared_queues(catalog, settings), [])


@router.get("/jobs/{job_id}")
async def get_job(
    job_id: JobId,
    redis: RedisDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    hub: HubDep,
    slots: StreamSlotsDep,
    request: Request,
    wait: Annotated[
        float, Query(ge=0, le=60, description="Wait up to this many seconds for a final state.")
    ] = 0,
) -> JobView:
    """A job's status, tries, progress, input and result or error. A long-poll (`wait`) takes
    one of the process's stream slots while it waits: 503 `too_many_streams` when none is free."""
    view = await load_view(redis, catalog, settings, job_id)
    if view.status.is_final or wait <= 0:
        return view
    deadline = time.monotonic() + min(wait, settings.max_wait_s)
    with slots.hold():
        async with until_disconnected(request) as gone:
            return await _wait_final(job_id, deadline, redis, catalog, settings, hub, gone)


async def _wait_final(
    job_id: str,
    deadline: float,
    redis: RedisClient,
    catalog: dict[str, JobSpec],
    settings: Settings,
    hub: EventHub,
    gone: asyncio.Event,
) -> JobView:
    async with hub.watch(job_id) as changed:
        # A change between the read above and this watch woke nobody: read once more.
        view = await load_view(redis, catalog, settings, job_id)
        while not view.status.is_final:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # A deferred job's due time is a change nobody publishes: wake up for it too.
            if view.scheduled_for is not None:
                remaining = min(remaining, max(view.scheduled_for.timestamp() - time.time(), 0.05))
            if await changed_or_gone(changed, gone, remaining):
                break  # the client left: give its slot back now, not at the deadline
            changed.clear()
            view = await load_view(redis, catalog, settings, job_id)
    return view


async def _existing_job(
    job_id: JobId, redis: RedisDep, catalog: CatalogDep, settings: SettingsDep
) -> JobView:
    return await load_view(redis, catalog, settings, job_id)


@router.get("/jobs/{job_id}/events", response_class=EventSourceResponse)
async def job_events(
    view: Annotated[JobView, Depends(_existing_job)],
    # After the job is found (a 404 takes no slot); held until the stream is over.
    _slot: Annotated[None, Depends(hold_stream_slot)],
    redis: RedisDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    hub: HubDep,
) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: the JobView on every change of status or progress, then the end at a
    final state. Changes arrive by pub/sub from the workers, not by polling. A stream takes one
    of the process's stream slots (503 `too_many_streams` when none is free) and ends after
    `STREAM_MAX_S` in any case: an `EventSource` reconnects on its own and gets the current
    view first."""
    ends_at = time.monotonic() + settings.stream_max_s
    async with hub.watch(view.id) as changed:
        # The view was read before this watch began, and a change in between (a job starting
        # and reporting progress within a millisecond) woke nobody: read it once more.
        try:
            view = await load_view(redis, catalog, settings, view.id)
        except JobNotFound:
            return
        last = None
        while True:
            key = (view.status, view.tries, view.progress)
            if key != last:
                yield ServerSentEvent(
                    data=view.model_dump(mode="json"), event="job", id=str(view.tries)
                )
                last = key
            lasted = time.monotonic() >= ends_at
            if view.status.is_final or lasted:
                return
            # A deferred job coming due is a change nobody publishes: wake for it too.
            timeout = ends_at - time.monotonic()
            if view.scheduled_for is not None:
                due_in = max(view.scheduled_for.timestamp() - time.time(), 0.05)
                timeout = min(timeout, due_in)
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
    job_id: JobId, redis: RedisDep, catalog: CatalogDep, settings: SettingsDep, hub: HubDep
) -> JobView:
    """Abort: a queued or deferred job never starts; a running one is cancelled, and the answer
    waits (a few seconds at most) until its worker has done so. 409 if the job is final, also
    when it finished before its worker could cancel it (the details carry its status)."""
    async with hub.watch(job_id) as changed:
        try:
            outcome = "missing"
            if await names_known_queue(redis, catalog, settings, job_id):
                outcome = await abort(redis, job_id, settings, legacy=reads_legacy(settings))
        except InvalidQueueName:
            outcome = "missing"
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
    job_id: JobId,
    request: Request,
    response: Response,
    redis: RedisDep,
    catalog: CatalogDep,
    settings: SettingsDep,
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
    # Same queue and priority as the failed job, a new id.
    enqueued = await enqueue(
        redis, spec, payload, queue=view.queue, priority=view.priority, settings=settings
    )
    logger.info(
        "job enqueued", extra={"job_id": enqueued.job_id, "job": spec.name, "retry_of": job_id}
    )
    response.headers["Location"] = job_location(request.scope, enqueued.job_id)
    return await load_view(redis, catalog, settings, enqueued.job_id)


@router.get("/jobs")
async def list_jobs(
    redis: RedisDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
    queue: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$", description="Only this queue.")
    ] = None,
    created_after: Annotated[
        Rfc3339DateTime | None, Query(description="Enqueued at or after.")
    ] = None,
    created_before: Annotated[Rfc3339DateTime | None, Query(description="Enqueued before.")] = None,
    id_prefix: Annotated[
        str | None,
        Query(
            min_length=4,
            max_length=265,
            pattern=r"^[\w:.\-@]+$",
            description="Jobs whose id starts with this (one page, no cursor).",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None,
        Query(max_length=300, pattern=r"^\d+:[\w:.\-@]+$", description="From the previous page."),
    ] = None,
) -> JobPage:
    """Jobs, newest first, across queues (or one), optionally filtered by status, name,
    enqueue time and id prefix."""
    if queue:
        names = [await known_queue(queue, redis, catalog, settings)]
    else:
        names = await known_queues(redis, catalog, settings)
    where = listing.JobFilter(
        frozenset({status_}) if status_ else frozenset(),
        name,
        since_ms=None if created_after is None else round(created_after.timestamp() * 1000),
        until_ms=None if created_before is None else round(created_before.timestamp() * 1000),
    )
    if id_prefix is not None:
        if cursor is not None:
            raise InvalidRequest("id_prefix answers one page: leave cursor out")
        found = await listing.find_by_id_prefix(
            redis,
            names,
            id_prefix,
            max_tries_by_name(catalog),
            where=where,
            limit=limit,
            legacy=reads_legacy(settings),
        )
        return JobPage(jobs=found, next_cursor=None)
    page = await listing.list_jobs(
        redis,
        names,
        max_tries_by_name(catalog),
        where=where,
        limit=limit,
        cursor=cursor,
        legacy=reads_legacy(settings),
    )
    return JobPage(jobs=page.jobs, next_cursor=page.next_cursor)
