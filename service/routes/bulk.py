"""`POST /jobs/{name}/bulk`: many inputs of one job type, validated whole, enqueued in one go.

Every item is validated before anything is queued: one bad item is a 422 listing the bad
indexes, and nothing is enqueued. More than `MAX_BULK` items is a 413, and so are items x
`after` past `MAX_EDGES_PER_REQUEST` (`too_many_edges`). Otherwise the jobs are enqueued in
input order, a few hundred per round trip (`jobs.enqueue.submit.enqueue_many`). The answer
stays small: ids always, JobViews only up to `VIEWS_MAX` items.
"""

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response, status
from pydantic import BaseModel, ValidationError

from jobs.declare.models import Model
from jobs.declare.registry import JobSpec
from jobs.enqueue.submit import Enqueued, enqueue_many
from jobs.layout.connection import RedisClient
from jobs.settings import Settings
from service.deps import CatalogDep, RedisDep, SettingsDep
from service.enqueue_options import OptionsDep
from service.errors import InvalidInput, PayloadTooLarge
from service.routes.enqueue import created_view, item_errors
from service.schemas import ERROR_RESPONSES, JobView, error_response
from service.serving import QueueServing
from service.views import load_views

logger = logging.getLogger("service")


VIEWS_MAX = 100
"""Past this many items a bulk answer lists ids, not JobViews: a 1,000-item answer of full
views was 6.4 MB (each view repeats its input); the ids of 1,000 are about 40 KB."""


class BulkEnqueued(Model):
    count: int
    """How many items were enqueued."""
    ids: list[str]
    """The jobs' ids, in input order (as in `jobs`)."""
    jobs: list[JobView] | None
    """The jobs, in input order: new ones, or for an item equal to a job not final yet
    (`unique_for`, `debounce`), that job. Null past 100 items: read each at `job_url`."""
    job_url: str
    """Where each job is read: `/jobs/{id}` (under the service's prefix)."""


def _bulk_endpoint(spec: JobSpec) -> Callable[..., Awaitable[BulkEnqueued]]:
    async def endpoint(
        items: Annotated[list[Any], Body(description=f"Inputs of `{spec.name}`.")],
        redis: RedisDep,
        settings: SettingsDep,
        catalog: CatalogDep,
        options: OptionsDep,
        request: Request,
        response: Response,
    ) -> BulkEnqueued:
        payloads = _validated(spec, items, settings.max_bulk)
        enqueued = await enqueue_many(redis, spec, payloads, options, settings=settings)
        logger.info("jobs enqueued", extra={"job": spec.name, "count": len(enqueued)})
        ids = [e.job_id for e in enqueued]
        views = None
        if len(enqueued) <= VIEWS_MAX:
            views = await _views(redis, catalog, settings, spec, enqueued)
        serving: QueueServing = request.app.state.queue_serving
        await serving.warn(redis, response, (e.queue for e in enqueued if e.queue))
        job_url = f"{request.scope.get('root_path', '')}/jobs/{{id}}"
        return BulkEnqueued(count=len(ids), ids=ids, jobs=views, job_url=job_url)

    endpoint.__name__ = f"enqueue_{spec.name}_bulk"
    endpoint.job_spec = spec  # type: ignore[attr-defined]  # its body is the job's inputs
    endpoint.__doc__ = (
        f"Enqueue many `{spec.name}` jobs: a JSON array of inputs, validated whole (422 lists "
        "the bad indexes and nothing is enqueued), then enqueued in input order. The answer "
        f"lists every job's id, and its JobView up to {VIEWS_MAX} items (`jobs` is null past "
        "it); items x `after` past `MAX_EDGES_PER_REQUEST` is a 413 `too_many_edges`."
    )
    return endpoint


def _validated(spec: JobSpec, items: list[Any], max_bulk: int) -> list[BaseModel]:
    """Every item as the job's input; any bad one refuses the whole request (422)."""
    if not items:
        raise InvalidInput("give at least one item")
    if len(items) > max_bulk:
        raise PayloadTooLarge(f"{len(items)} items; at most {max_bulk} per request (MAX_BULK)")
    payloads: list[BaseModel] = []
    bad: dict[int, list[dict[str, Any]]] = {}
    for index, item in enumerate(items):
        try:
            payloads.append(spec.enqueue_model.model_validate(item))
            # The item as sent (stdlib json: extra fields a lenient model ignores may hold
            # integers past 64 bits), checked again in strict mode.
            problems = [
                {"loc": list(e["loc"]), "msg": e["msg"]}
                for e in item_errors(spec, json.dumps(item).encode())
            ]
        except ValidationError as exc:
            problems = [
                {"loc": list(e["loc"]), "msg": e["msg"]}
                for e in exc.errors(include_url=False, include_context=False)
            ]
        if problems:
            bad[index] = problems
    if bad:
        raise InvalidInput(
            f"{len(bad)} of {len(items)} items are invalid; nothing was enqueued",
            details={"invalid": [{"index": i, "errors": e} for i, e in bad.items()]},
        )
    return payloads


async def _views(
    redis: RedisClient,
    catalog: dict[str, JobSpec],
    settings: Settings,
    spec: JobSpec,
    enqueued: list[Enqueued],
) -> list[JobView]:
    """The jobs' views in input order. An item equal to a job not final yet (uniqueness) is
    that job, as it is now; so is a job waiting for parents (they may be final already)."""
    known = [e.outcome == "created" and not e.waiting for e in enqueued]
    unknown = [e.job_id for e, k in zip(enqueued, known, strict=True) if not k]
    read = iter(await load_views(redis, catalog, settings, unknown))
    return [
        created_view(spec, e) if k else next(read) for e, k in zip(enqueued, known, strict=True)
    ]


def _body_schema(spec: JobSpec, max_bulk: int) -> dict[str, Any]:
    """The array of inputs, for /docs (the route reads a plain list to validate per item)."""
    items = {"$ref": f"#/components/schemas/{spec.enqueue_model.__name__}"}
    schema = {"type": "array", "items": items, "minItems": 1, "maxItems": max_bulk}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def bulk_router(catalog: dict[str, JobSpec], max_bulk: int) -> APIRouter:
    routes = APIRouter(tags=["enqueue"], responses=ERROR_RESPONSES)
    for spec in sorted(catalog.values(), key=lambda s: s.name):
        if spec.internal:  # enqueued by the service only
            continue
        routes.add_api_route(
            f"/jobs/{spec.name}/bulk",
            _bulk_endpoint(spec),
            methods=["POST"],
            status_code=status.HTTP_202_ACCEPTED,
            summary=f"Enqueue many {spec.name}",
            response_model=BulkEnqueued,
            responses={
                status.HTTP_400_BAD_REQUEST: error_response("The body is not JSON (or not UTF-8).")
            },
            openapi_extra=_body_schema(spec, max_bulk),
        )
    return routes
