"""One error base for the API, mapped to HTTP once; every error body is
`{"error": {"code", "message", "details"}}`. Nothing a client sends can cause a 500."""

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from jobs.declare.queues import UnknownQueue
from jobs.enqueue.plan import InvalidDependency, InvalidSchedule, QueuePinned
from jobs.enqueue.replicas import NotReplicated
from jobs.graph.dependencies import UnknownParent
from jobs.graph.edge_limit import TooManyEdges
from jobs.layout.serialization import NotSerializable
from jobs.webhooks.callback import InvalidCallback

logger = logging.getLogger("service")

REDIS_RETRY_AFTER_S = 5


class ServiceError(Exception):
    status_code: ClassVar[int] = status.HTTP_400_BAD_REQUEST
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, details: Any = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers


class JobNotFound(ServiceError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "job_not_found"


class JobTypeNotFound(ServiceError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "job_type_not_found"


class IdempotencyConflict(ServiceError):
    status_code = status.HTTP_409_CONFLICT
    code = "idempotency_conflict"


class JobStateConflict(ServiceError):
    status_code = status.HTTP_409_CONFLICT
    code = "job_state_conflict"


class InvalidRequest(ServiceError):
    """The request itself: a query parameter, header or path segment, options that do not
    go together, a body that is not a job's input (a workflow's graph)."""

    status_code = status.HTTP_422_UNPROCESSABLE_CONTENT
    code = "invalid_request"


class InvalidInput(ServiceError):
    """A job's input (an enqueue's body, a bulk item, a workflow node's input) does not fit
    the job's input model: a wrong type, a missing field, a field it does not declare."""

    status_code = status.HTTP_422_UNPROCESSABLE_CONTENT
    code = "invalid_input"


class Unauthorized(ServiceError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "unauthorized"


class ReadOnlyKey(ServiceError):
    """A key of `API_KEYS_READ` asked for a change (any method but GET and HEAD)."""

    status_code = status.HTTP_403_FORBIDDEN
    code = "read_only_key"


class CrossSiteRefused(ServiceError):
    """A change a browser may have been led to ask for by another site (`cross_site.py`)."""

    status_code = status.HTTP_403_FORBIDDEN
    code = "cross_site_refused"


class TooManyStreams(ServiceError):
    """This web process holds `MAX_STREAMS_PER_PROCESS` event streams and long-polls."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "too_many_streams"


class PayloadTooLarge(ServiceError):
    status_code = status.HTTP_413_CONTENT_TOO_LARGE
    code = "payload_too_large"


class TooManyEdgesError(ServiceError):
    """More dependency edges than `MAX_EDGES_PER_REQUEST` (`jobs.graph.edge_limit`)."""

    status_code = status.HTTP_413_CONTENT_TOO_LARGE
    code = "too_many_edges"


class QueuePinnedError(ServiceError):
    """A workflow or batch node names another queue for a job pinned to its own."""

    status_code = status.HTTP_422_UNPROCESSABLE_CONTENT
    code = "queue_pinned"


class UnknownQueueError(ServiceError):
    """An enqueue (or a workflow or batch node) names a queue nothing declares."""

    status_code = status.HTTP_422_UNPROCESSABLE_CONTENT
    code = "unknown_queue"


class QueueNotFound(ServiceError):
    """A queue route names a queue nothing declares (nor the registry knows)."""

    status_code = status.HTTP_404_NOT_FOUND
    code = "queue_not_found"


class WorkflowNotFound(ServiceError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "workflow_not_found"


class BatchNotFound(ServiceError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "batch_not_found"


class WorkflowRetryRefused(ServiceError):
    """`POST /workflows/{id}/retry` on a workflow that cannot be retried now; `details.reason`
    says why: `workflow_running` (not final yet), `workflow_complete` (nothing to rerun),
    `workflow_expired` (a node's record expired), `retry_in_progress` (another retry won)."""

    status_code = status.HTTP_409_CONFLICT
    code = "workflow_not_retryable"


class WorkflowNotCommittedError(ServiceError):
    """Redis Cluster: the workflow's creation lost the race with the sweep (it took longer
    than `DEPENDENCY_SWEEP_S`); none of its jobs runs. Try again."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "workflow_not_committed"


class ScheduleNotFound(ServiceError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "schedule_not_found"


class ScheduleInCode(ServiceError):
    """A schedule declared in code: read-only over the API (change the code, or pause it)."""

    status_code = status.HTTP_409_CONFLICT
    code = "schedule_in_code"


class RedisUnavailable(ServiceError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "redis_unavailable"


class RedisOutOfMemory(ServiceError):
    """The server refused a write: its `maxmemory` is reached (`noeviction`). Nothing of the
    request was written (a script or transaction refused for memory writes nothing), so a
    client may send it again once memory frees."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "redis_out_of_memory"


class EnqueueNotReplicated(ServiceError):
    """`ENQUEUE_WAIT_REPLICAS`: the job is on the primary but fewer replicas than asked for have
    it, so a failover could lose it: not acknowledged. Sent again with its `Idempotency-Key`,
    it is not enqueued twice."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "enqueue_not_replicated"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


async def send_error(
    scope: Scope,
    receive: Receive,
    send: Send,
    error: ServiceError,
    headers: Mapping[str, str] | None = None,
) -> None:
    """`error` as the service's JSON answer, from an ASGI middleware (outside the routes and
    their exception handlers)."""
    merged = {**(error.headers or {}), **(headers or {})}
    body = error_body(error.code, error.message, error.details)
    await JSONResponse(body, error.status_code, headers=merged)(scope, receive, send)


def _json(
    status_code: int, code: str, message: str, details: Any = None, headers: Any = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code, headers=headers)


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return _json(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


_UNKNOWN = {"body": "unknown input field", "query": "unknown query parameter"}


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """`invalid_input` when only the body of an enqueue (a job's input) is wrong, else
    `invalid_request`; the message names what is unknown, the details list every error."""
    assert isinstance(exc, RequestValidationError)
    errors = [(tuple(e.get("loc", ())), e) for e in exc.errors()]
    details = [{"loc": list(loc), "msg": e.get("msg"), "type": e.get("type")} for loc, e in errors]
    job_input = hasattr(request.scope.get("endpoint"), "job_spec") and all(
        loc[:1] == ("body",) for loc, _ in errors
    )
    error = InvalidInput if job_input else InvalidRequest
    unknown: dict[str, list[str]] = {}
    for loc, e in errors:
        if e.get("type") == "extra_forbidden" and loc[:1] in (("body",), ("query",)):
            unknown.setdefault(_UNKNOWN[str(loc[0])], []).append(".".join(map(str, loc[1:])))
    named = "; ".join(f"{kind}(s): {', '.join(names)}" for kind, names in unknown.items())
    message = named or ("the job's input is invalid" if job_input else "the request is invalid")
    return _json(error.status_code, error.code, message, details)


def _allowed_methods(request: Request) -> str | None:
    """Every method routed on the path a 405 is for: the first route template that matches it
    names the resource. Starlette's own `Allow` names only the first route that matched, and
    FastAPI makes one route per method (`GET` and `DELETE /jobs/{id}`)."""
    template, methods = None, set()
    for context in iter_route_contexts(request.app.routes):
        route = context.original_route  # its own `matches`: a route class may narrow it
        if not isinstance(route, Route) or not route.methods:
            continue
        if route.matches(request.scope)[0] is Match.NONE:
            continue
        template = template or route.path
        if route.path == template:
            methods |= route.methods
    return ", ".join(sorted(methods)) or None


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {
        status.HTTP_400_BAD_REQUEST: ServiceError.code,  # a body that cannot be read
        status.HTTP_404_NOT_FOUND: "not_found",
        status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
        status.HTTP_413_CONTENT_TOO_LARGE: "payload_too_large",
    }.get(exc.status_code, "http_error")
    headers = exc.headers
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        allow = _allowed_methods(request)
        headers = {**(headers or {}), **({"Allow": allow} if allow else {})}
    return _json(exc.status_code, code, str(exc.detail), headers=headers)


# Replies by which a server says "not now" (loading its dataset, running a long script, cut off
# from its master, resharding, out of memory): a client may retry. redis-py turns some of them
# into classes (and strips the word); the others stay a `ResponseError` whose text starts with it.
_TRY_AGAIN_REPLIES = frozenset({"LOADING", "BUSY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "OOM"})
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError,  # includes BusyLoadingError (LOADING)
    RedisTimeoutError,
    ConnectionError,  # refused/reset before redis-py wraps it
    TimeoutError,
    BusyLoadingError,
    ReadOnlyError,
    OutOfMemoryError,
    ClusterDownError,  # includes MasterDownError
    TryAgainError,
)


def _out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, OutOfMemoryError):
        return True
    # In a transaction, the command refused for memory aborts it: EXECABORT names the cause.
    return isinstance(exc, ResponseError) and str(exc).split(" ", 1)[0] == "OOM"


def store_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the job store cannot answer right now (503, retry later), as opposed
    to a bug or a broken install (a missing file, a failing script: 500, with a traceback)."""
    if isinstance(exc, _UNAVAILABLE):
        return True
    return isinstance(exc, ResponseError) and str(exc).split(" ", 1)[0] in _TRY_AGAIN_REPLIES


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    if not store_unavailable(exc):
        logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _json(status.HTTP_500_INTERNAL_SERVER_ERROR, "internal", "internal error")
    logger.warning("redis unavailable: %s", exc)
    retry_after = {"Retry-After": str(REDIS_RETRY_AFTER_S)}
    if _out_of_memory(exc):
        message = "the job store is out of memory; nothing was written, try again later"
        return _json(
            RedisOutOfMemory.status_code, RedisOutOfMemory.code, message, headers=retry_after
        )
    return _json(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        RedisUnavailable.code,
        "the job store is unreachable; try again shortly",
        headers=retry_after,
    )


# What `jobs` raises for a caller's mistake, and the code of its 422: an input the model takes
# but JSON cannot store exactly (an integer past 64 bits), a queue a limited job may not use,
# parents that do not exist or cannot be waited for, a callback URL refused.
_CALLER_MISTAKES: dict[type[Exception], str] = {
    NotSerializable: InvalidInput.code,
    QueuePinned: "queue_pinned",
    UnknownQueue: UnknownQueueError.code,
    UnknownParent: "unknown_parent",
    InvalidDependency: "invalid_dependency",
    InvalidSchedule: "invalid_request",
    InvalidCallback: "callback_refused",
}


async def _caller_mistake(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, InvalidCallback):
        code = exc.code  # refused, or no signing secret configured
    else:
        code = next(c for kind, c in _CALLER_MISTAKES.items() if isinstance(exc, kind))
    details: Any = None
    if isinstance(exc, UnknownParent):
        details = {"job_ids": exc.job_ids}
    elif isinstance(exc, UnknownQueue):
        details = {"queue": exc.queue, "known": exc.known}
    return _json(status.HTTP_422_UNPROCESSABLE_CONTENT, code, str(exc), details)


async def _too_many_edges(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TooManyEdges)
    details = {"edges": exc.edges, "limit": exc.limit}
    return _json(TooManyEdgesError.status_code, TooManyEdgesError.code, str(exc), details)


async def _not_replicated(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotReplicated)
    logger.warning("enqueue not replicated: %s", exc)
    details = {"replicas": exc.acknowledged, "wanted": exc.wanted}
    retry_after = {"Retry-After": str(REDIS_RETRY_AFTER_S)}
    code = EnqueueNotReplicated.code
    return _json(EnqueueNotReplicated.status_code, code, str(exc), details, headers=retry_after)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return _json(status.HTTP_500_INTERNAL_SERVER_ERROR, "internal", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    for mistake in _CALLER_MISTAKES:
        app.add_exception_handler(mistake, _caller_mistake)
    app.add_exception_handler(TooManyEdges, _too_many_edges)
    app.add_exception_handler(NotReplicated, _not_replicated)
    # Handled here rather than by the `Exception` handler, which re-raises after answering.
    app.add_exception_handler(RedisError, _store_error)
    app.add_exception_handler(OSError, _store_error)
    app.add_exception_handler(Exception, _unexpected)
