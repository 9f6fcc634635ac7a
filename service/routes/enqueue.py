"""`POST /jobs/{name}`: one typed route per declared job, so /docs shows each input model."""

import inspect
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Response, status
from pydantic import BaseModel

from jobs.enqueue import enqueue
from jobs.registry import JobSpec
from jobs.store import new_job_record
from service.deps import ArqDep, CatalogDep, SettingsDep
from service.errors import IdempotencyConflict, InvalidRequest, JobTypeNotFound
from service.schemas import ERROR_RESPONSES, JobView
from service.views import load_view
from settings import Settings

logger = logging.getLogger("service")

MAX_DEFER_S = 365 * 24 * 3600


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
    if enqueued.outcome == "created":
        return new_job_record(
            enqueued.job_id,
            spec.name,
            spec.queue,
            spec.max_tries,
            enqueued.enqueued_ms,
            enqueued.scheduled_ms,
            enqueued.payload,
        )
    return await load_view(redis, catalog, settings, enqueued.job_id)


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
