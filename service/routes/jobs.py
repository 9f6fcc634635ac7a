"""Enqueue, follow, abort, retry and list jobs."""

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response, status
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

from jobs import keys, lua
from jobs.enqueue import enqueue
from jobs.errors import Aborted, error_info
from jobs.registry import JobSpec
from jobs.results import result_data
from jobs.serialization import deserialize
from jobs.store import JobRecord, JobStatus, load_job, load_jobs
from service.deps import ArqDep, CatalogDep, HubDep, SettingsDep
from service.errors import (
    IdempotencyConflict,
    InvalidRequest,
    JobNotFound,
    JobStateConflict,
    JobTypeNotFound,
)
from service.schemas import ERROR_RESPONSES, JobPage, JobView
from settings import Settings

router = APIRouter(tags=["jobs"], responses=ERROR_RESPONSES)
logger = logging.getLogger("service")

JobId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[\w:.\-]+$")]
MAX_DEFER_S = 365 * 24 * 3600


def _max_tries(catalog: dict[str, JobSpec]) -> dict[str, int]:
    return {name: spec.max_tries for name, spec in catalog.items()}


async def _view(
    redis: ArqDep, catalog: dict[str, JobSpec], settings: Settings, job_id: str
) -> JobView:
    record = await load_job(redis, job_id, settings.queue_name, _max_tries(catalog))
    if record is None:
        raise JobNotFound(f"no job {job_id!r} (unknown or expired)")
    return record


async def _submit(
    spec: JobSpec,
    payload: BaseModel,
    response: Response,
    redis: ArqDep,
    settings: Settings,
    catalog: dict[str, JobSpec],
    defer_by: float | None,
    defer_until: datetime | None,
    idempotency_key: str | None,
) -> JobView:
    if defer_by is not None and defer_until is not None:
        raise InvalidRequest("give defer_by or defer_until, not both")
    enqueued = await enqueue(
        redis,
        spec,
        payload,
        defer_by=defer_by,
        defer_until=defer_until,
        idempotency_key=idempotency_key,
        settings=settings,
    )
    if enqueued.outcome == "existing" and not enqueued.same_input:
        raise IdempotencyConflict(
            "this Idempotency-Key was used with a different input",
            details={"job_id": enqueued.job_id},
        )
    response.status_code = (
        status.HTTP_200_OK if enqueued.outcome == "existing" else status.HTTP_202_ACCEPTED
    )
    log = {"job_id": enqueued.job_id, "job": spec.name, "outcome": enqueued.outcome}
    logger.info("job enqueued", extra=log)
    response.headers["Location"] = f"/jobs/{enqueued.job_id}"
    return await _view(redis, catalog, settings, enqueued.job_id)


def _enqueue_endpoint(spec: JobSpec) -> Callable[..., Awaitable[JobView]]:
    """A `POST /jobs/{name}` handler whose body is `spec`'s own input model (so /docs shows it)."""
    optional_body = all(not f.is_required() for f in spec.input_model.model_fields.values())

    async def endpoint(
        *,
        payload: Any = None,
        response: Response,
        redis: ArqDep,
        settings: SettingsDep,
        catalog: CatalogDep,
        defer_by: Annotated[
            float | None,
            Query(
                ge=0, le=MAX_DEFER_S, description="Run no sooner than this many seconds from now."
            ),
        ] = None,
        defer_until: Annotated[
            datetime | None, Query(description="Run no sooner than this time (RFC 3339).")
        ] = None,
        idempotency_key: Annotated[
            str | None,
            Header(max_length=200, description="Same key and input: the existing job (200)."),
        ] = None,
    ) -> JobView:
        if payload is None:
            payload = spec.input_model()
        return await _submit(
            spec,
            payload,
            response,
            redis,
            settings,
            catalog,
            defer_by,
            defer_until,
            idempotency_key,
        )

    signature = inspect.signature(endpoint)
    model = spec.input_model | None if optional_body else spec.input_model
    typed_payload = signature.parameters["payload"].replace(
        annotation=Annotated[model, Body()],
        default=None if optional_body else inspect.Parameter.empty,
    )
    params = [typed_payload if p.name == "payload" else p for p in signature.parameters.values()]
    endpoint.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    endpoint.__name__ = f"enqueue_{spec.name}"
    endpoint.__doc__ = f"Enqueue `{spec.name}`: {spec.description}"
    return endpoint


def enqueue_router(catalog: dict[str, JobSpec]) -> APIRouter:
    """One typed `POST /jobs/{name}` per job, then a catch-all that answers 404."""
    enqueue_routes = APIRouter(tags=["enqueue"], responses=ERROR_RESPONSES)
    for spec in sorted(catalog.values(), key=lambda s: s.name):
        enqueue_routes.add_api_route(
            f"/jobs/{spec.name}",
            _enqueue_endpoint(spec),
            methods=["POST"],
            status_code=status.HTTP_202_ACCEPTED,
            summary=f"Enqueue {spec.name}",
            response_model=JobView,
        )

    @enqueue_routes.post("/jobs/{name}", include_in_schema=False)
    async def enqueue_unknown(name: str) -> JobView:
        raise JobTypeNotFound(f"no job type {name!r}", details={"known": sorted(catalog)})

    return enqueue_routes


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
    view = await _view(redis, catalog, settings, job_id)
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
            view = await _view(redis, catalog, settings, job_id)
    return view


async def _existing_job(
    job_id: JobId, redis: ArqDep, catalog: CatalogDep, settings: SettingsDep
) -> JobView:
    return await _view(redis, catalog, settings, job_id)


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
                view = await _view(redis, catalog, settings, view.id)
            except JobNotFound:
                return


@router.delete("/jobs/{job_id}", status_code=status.HTTP_202_ACCEPTED)
async def abort_job(
    job_id: JobId, redis: ArqDep, catalog: CatalogDep, settings: SettingsDep
) -> JobView:
    """Abort: a queued or deferred job never starts; a running one is cancelled. 409 if final."""
    view = await _view(redis, catalog, settings, job_id)
    if view.status.is_final:
        raise JobStateConflict(f"job {job_id} is already {view.status}")
    now_ms = int(time.time() * 1000)
    raw = await redis.get(keys.JOB + job_id)
    d: dict[str, Any] = deserialize(raw) if raw else {"f": view.name, "a": [view.input]}
    aborted = result_data(
        job_id=job_id,
        name=d["f"],
        args=d.get("a", []),
        kwargs=d.get("k", {}),
        tries=view.tries,
        enqueued_ms=d.get("et", 0),
        status="aborted",
        result=error_info(Aborted("aborted on request")),
        started_ms=now_ms,
        finished_ms=now_ms,
        queue=settings.queue_name,
    )
    outcome = await lua.script("abort")(
        redis,
        [settings.queue_name, keys.ABORT, keys.FAILED],
        [
            job_id,
            now_ms,
            aborted,
            settings.failed_ttl_s * 1000,
            keys.JOB,
            keys.RESULT,
            keys.IN_PROGRESS,
            keys.STATE,
            keys.EVENTS,
        ],
    )
    if outcome == b"final":
        raise JobStateConflict(f"job {job_id} finished meanwhile")
    if outcome == b"missing":
        raise JobNotFound(f"no job {job_id!r} (unknown or expired)")
    return await _view(redis, catalog, settings, job_id)


@router.post("/jobs/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_job(
    job_id: JobId, response: Response, redis: ArqDep, catalog: CatalogDep, settings: SettingsDep
) -> JobView:
    """Run a failed or aborted job again: a new job with the same input."""
    view = await _view(redis, catalog, settings, job_id)
    if view.status not in (JobStatus.failed, JobStatus.aborted):
        raise JobStateConflict(
            f"only failed or aborted jobs can be retried; this one is {view.status}"
        )
    spec = catalog.get(view.name)
    if spec is None:
        raise JobTypeNotFound(f"job type {view.name!r} no longer exists")
    payload = spec.input_model.model_validate(view.input)
    enqueued = await enqueue(redis, spec, payload, settings=settings)
    logger.info(
        "job enqueued", extra={"job_id": enqueued.job_id, "job": spec.name, "retry_of": job_id}
    )
    response.headers["Location"] = f"/jobs/{enqueued.job_id}"
    return await _view(redis, catalog, settings, enqueued.job_id)


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
    max_tries = _max_tries(catalog)
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
