"""`POST /jobs/{name}`: one typed route per declared job, so /docs shows each input model."""

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request, Response, status
from fastapi._compat import ModelField
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import State
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from jobs.declare.registry import JobSpec
from jobs.enqueue.options import NO_OPTIONS, EnqueueOptions
from jobs.enqueue.submit import Enqueued, enqueue
from jobs.layout.connection import RedisClient
from jobs.logs import line
from jobs.reading.job_record import new_job_record
from jobs.settings import Settings
from service.enqueue_options import OptionsDep
from service.errors import IdempotencyConflict, JobTypeNotFound
from service.schemas import ERROR_RESPONSES, JobView, error_response
from service.views import job_location, load_view

logger = logging.getLogger("service")

_LOCATION = {
    "Location": {
        "description": "The job's URL, `/jobs/{id}`.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Warning": {
        "description": "`199 - \"no live worker serves queue 'x'\"` when no live worker "
        "serves the job's queue (`WORKER_QUEUES`; `*` serves every queue): it stays there "
        "until one that does starts.",
        "schema": {"type": "string"},
    },
}
ENQUEUE_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_200_OK: {
        "model": JobView,
        "description": "That job: this `Idempotency-Key` was used before with the same "
        "input, or an equal job is not final yet (`unique_for`), or a waiting equal job took "
        "this input and waits again (`debounce`).",
        "headers": _LOCATION,
    },
    status.HTTP_202_ACCEPTED: {"description": "Enqueued: the new job.", "headers": _LOCATION},
    status.HTTP_400_BAD_REQUEST: error_response("The body could not be read (e.g. not UTF-8)."),
}


class _JobTypeRoute(APIRoute):
    """`/jobs/{a job type's name}` is that type's enqueue resource for every method: a GET or
    DELETE there answers 405 (with `Allow: POST`) instead of falling through to
    `/jobs/{job_id}`, as the OpenAPI document says (a concrete path wins over a template).

    A plain request (a small JSON body that is valid as sent, no query options, no
    `Idempotency-Key`) is answered by `_plain_enqueue` straight from the route's ASGI
    `handle`; every other one, and every invalid one, goes through FastAPI's own handler,
    given the body read so far."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        return (Match.FULL if match is Match.PARTIAL else match), child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        spec: JobSpec | None = getattr(self.endpoint, "job_spec", None)
        field = self.response_field
        if spec is None or field is None or not _plain_request(scope):
            await super().handle(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client left before sending its body: no one to answer
        response = await _plain_enqueue(spec, field, scope, body)
        if response is None:
            await super().handle(scope, _replay(body, receive), send)
        else:
            await response(scope, receive, send)


PLAIN_BODY_MAX = 65_536
"""Bodies up to this size (declared by Content-Length) may take the short path."""


def _plain_request(scope: Scope) -> bool:
    """A POST with a JSON body of a declared size up to `PLAIN_BODY_MAX`, and nothing else
    to read: no query options, no `Idempotency-Key`."""
    if scope["method"] != "POST" or scope["query_string"]:
        return False
    content_type = length = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
        elif name == b"content-length":
            length = value
        elif name == b"idempotency-key":
            return False
    if content_type != b"application/json" or not length or not length.isdigit():
        return False
    return 0 < int(length) <= PLAIN_BODY_MAX


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client disconnected first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for a handler that comes after the body was read: the body first, then
    whatever the client sends next (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


async def _plain_enqueue(
    spec: JobSpec, field: ModelField, scope: Scope, body: bytes
) -> Response | None:
    """A plain enqueue without FastAPI's per-request work (its request object and exit
    stacks, dependency solving, JSON parsing and lax validation of the body, validating the
    view again): more than half of this route's CPU. None when the body is not valid as
    sent: the full handler answers it.

    The answer is the full handler's: this body is one the full path accepts too (it refuses
    what strict validation refuses, `_refuse_coerced_input`), and `_submit` and the route's
    own response field make the status, Location, log line and JSON. An error (Redis away)
    goes to the app's exception handlers, as from the full handler."""
    try:
        payload = spec.enqueue_model.model_validate_json(body, strict=True)
    except ValidationError:
        return None
    state = scope["app"].state
    view, code = await _submit(spec, payload, state, NO_OPTIONS, None)
    warning = await state.queue_serving.warning(state.redis, view.queue)
    return Response(
        field.serialize_json(view, by_alias=True),
        status_code=code,
        headers={"Location": job_location(scope, view.id), **warning},
        media_type="application/json",
    )


class _UnknownJobTypeRoute(APIRoute):
    """The catch-all `POST /jobs/{name}` (404 for unknown names) stays invisible to other
    methods, so a 405 on `/jobs/{job_id}` lists that resource's methods, not POST."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        return (Match.NONE, {}) if match is Match.PARTIAL else (match, child_scope)


async def _submit(
    spec: JobSpec,
    payload: BaseModel,
    state: State,
    options: EnqueueOptions,
    idempotency_key: str | None,
) -> tuple[JobView, int]:
    """Enqueue; the job's view and the status to answer with."""
    # Redis and settings from the app's state, not dependencies: each dependency is one more
    # round of FastAPI's dependency solving on every request.
    redis: RedisClient = state.redis
    settings: Settings = state.settings
    enqueued = await enqueue(
        redis, spec, payload, options, idempotency_key=idempotency_key, settings=settings
    )
    if enqueued.outcome == "existing" and not enqueued.same_input:
        raise IdempotencyConflict(
            "this Idempotency-Key was used with a different input",
            details={"job_id": enqueued.job_id},
        )
    log = {"job_id": enqueued.job_id, "job": spec.name, "outcome": enqueued.outcome}
    line(logger, logging.INFO, "job enqueued", log)  # `logger.info(..., extra=log)`, cheaper
    if enqueued.outcome == "created" and not enqueued.waiting:
        return created_view(spec, enqueued), status.HTTP_202_ACCEPTED
    # 200 for the job an Idempotency-Key or uniqueness resolved to; a job that waits for
    # parents is read back, since they may be final already (then it is queued, or even
    # failed by the `fail` rule, by the time this answers).
    view = await load_view(redis, state.catalog, settings, enqueued.job_id)
    code = status.HTTP_202_ACCEPTED if enqueued.outcome == "created" else status.HTTP_200_OK
    return view, code


def created_view(spec: JobSpec, enqueued: Enqueued) -> JobView:
    """The view of a job just enqueued: known without asking Redis again."""
    return new_job_record(
        enqueued.job_id,
        spec.name,
        spec.max_tries,
        enqueued.enqueued_ms,
        enqueued.scheduled_ms,
        enqueued.payload,
        enqueued.priority,
        enqueued.expires_ms,
    )


def _refuse_coerced_input(spec: JobSpec, body: bytes) -> None:
    errors = item_errors(spec, body)
    if errors:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors])


def item_errors(spec: JobSpec, body: bytes) -> list[ErrorDetails]:
    """What FastAPI's lax validation took but the published schema refuses (`false` or `"1.5"`
    for a number, `1` for a string): the body validated again as JSON in strict mode.
    Strict mode also refuses `15.0` for an integer, which JSON Schema allows (and so does the
    lax model that is used): that one error is let through."""
    try:
        spec.enqueue_model.model_validate_json(body, strict=True)
    except ValidationError as exc:
        return [e for e in exc.errors(include_url=False) if not _integral_float(e)]
    return []


def _integral_float(error: ErrorDetails) -> bool:
    value = error.get("input")
    return error["type"] == "int_type" and isinstance(value, float) and value.is_integer()


def _enqueue_endpoint(spec: JobSpec) -> Callable[..., Awaitable[JobView]]:
    """A `POST /jobs/{name}` handler whose body is `spec`'s own input model (so /docs shows it)."""
    optional_body = all(not f.is_required() for f in spec.enqueue_model.model_fields.values())

    async def endpoint(
        *,
        payload: Any = None,
        request: Request,
        response: Response,
        options: OptionsDep,
        idempotency_key: Annotated[
            str | None,
            Header(max_length=200, description="Same key and input: the existing job (200)."),
        ] = None,
    ) -> JobView:
        if payload is None:
            payload = spec.enqueue_model()
        else:  # FastAPI has read the body already (cached): no second read from the client
            _refuse_coerced_input(spec, await request.body())
        view, response.status_code = await _submit(
            spec, payload, request.app.state, options, idempotency_key
        )
        response.headers["Location"] = job_location(request.scope, view.id)
        state = request.app.state
        response.headers.update(await state.queue_serving.warning(state.redis, view.queue))
        return view

    signature = inspect.signature(endpoint)
    model = spec.enqueue_model | None if optional_body else spec.enqueue_model
    typed_payload = signature.parameters["payload"].replace(
        annotation=Annotated[model, Body()],
        default=None if optional_body else inspect.Parameter.empty,
    )
    params = [typed_payload if p.name == "payload" else p for p in signature.parameters.values()]
    endpoint.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    endpoint.__name__ = f"enqueue_{spec.name}"
    endpoint.job_spec = spec  # type: ignore[attr-defined]  # for _JobTypeRoute's short path
    endpoint.__doc__ = f"Enqueue `{spec.name}`: {spec.description}"
    return endpoint


RESERVED_NAMES = frozenset({"abort", "retry"})
"""`POST /jobs/abort` and `/jobs/retry` act on many jobs (`service.routes.by_filter`)."""


def enqueue_router(catalog: dict[str, JobSpec]) -> APIRouter:
    """One typed `POST /jobs/{name}` per job, then a catch-all that answers 404."""
    enqueue_routes = APIRouter(tags=["enqueue"], responses=ERROR_RESPONSES)
    public = sorted((s for s in catalog.values() if not s.internal), key=lambda s: s.name)
    taken = [s.name for s in public if s.name in RESERVED_NAMES]
    if taken:
        raise ValueError(
            f"job name {taken[0]!r} is a route of the job API (POST /jobs/{taken[0]}): "
            "declare the job with another name, e.g. @job(name='...')"
        )
    for spec in public:  # an internal job is enqueued by the service only
        enqueue_routes.add_api_route(
            f"/jobs/{spec.name}",
            _enqueue_endpoint(spec),
            methods=["POST"],
            status_code=status.HTTP_202_ACCEPTED,
            summary=f"Enqueue {spec.name}",
            response_model=JobView,
            responses=ENQUEUE_RESPONSES,
            route_class_override=_JobTypeRoute,
        )

    async def enqueue_unknown(name: str) -> JobView:
        known = [s.name for s in public]
        raise JobTypeNotFound(f"no job type {name!r}", details={"known": known})

    enqueue_routes.add_api_route(
        "/jobs/{name}",
        enqueue_unknown,
        methods=["POST"],
        include_in_schema=False,
        route_class_override=_UnknownJobTypeRoute,
    )
    return enqueue_routes
