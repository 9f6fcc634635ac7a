"""Response models of the API (request bodies are the jobs' own input models)."""

from datetime import datetime
from typing import Any

from fastapi import status
from pydantic import Field

from jobs.declare.models import Model
from jobs.reading.job_record import JobRecord
from jobs.reading.queues import QueueFigures

JobView = JobRecord


class ErrorDetail(Model):
    code: str
    message: str
    details: Any = None


class ErrorResponse(Model):
    error: ErrorDetail


class JobPage(Model):
    jobs: list[JobView]
    next_cursor: str | None
    """Pass as `cursor` to get the next (older) page; null on the last page."""


class CronInfo(Model):
    schedule: str
    """Fields: second minute hour day month weekday (UTC); `*` is every value."""
    next_run: datetime


class JobLimits(Model):
    """A job's flow control as declared (`@job(...)`); absent fields: no such limit. Every
    limit is shared by all workers."""

    concurrency: int | None = None
    """At most this many run at once (per `concurrency_key` value if given)."""
    concurrency_key: str | None = None
    rate_limit: str | None = None
    """`COUNT/PERIOD` admissions (GCRA), per `rate_key` value if given."""
    rate_burst: int | None = None
    """Admissions that may come at once after a quiet spell (1: evenly spaced)."""
    rate_key: str | None = None
    unique_for_s: float | None = None
    """An equal enqueue within this many seconds, while the job is not final, returns it."""
    unique_key: str | None = None
    """The input field that makes two enqueues equal (else the whole input)."""
    debounce_s: float | None = None
    """The job waits this long; an equal enqueue meanwhile replaces its input and restarts
    the wait."""
    expires_s: float | None = None
    """Not started within this many seconds of its enqueue, it never starts (`Expired`)."""
    fair_key: str | None = None
    """The input field whose value is its fair share's key: within a queue and a priority,
    ready jobs of different values are served in turn."""


class JobType(Model):
    name: str
    description: str
    queue: str
    max_tries: int
    timeout_s: float
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    cron: list[CronInfo]
    limits: JobLimits = Field(default_factory=JobLimits)
    """Flow control; a job with a limit or uniqueness runs on its declared `queue` only."""


QueueStats = QueueFigures


class Health(Model):
    status: str


class Readiness(Model):
    status: str
    redis: bool
    workers: int
    freshest_heartbeat_s: float | None
    eviction_policy: str | None = None
    """The server's `maxmemory-policy` (null if unreadable); only `noeviction` keeps every job."""
    warnings: list[str] = Field(default_factory=list)
    """Problems that do not make the service unready but lose work (e.g. an evicting policy)."""


Responses = dict[int | str, dict[str, Any]]


def error_response(description: str, **extra: Any) -> dict[str, Any]:
    """An OpenAPI response entry for an error: `ErrorResponse` JSON."""
    return {
        "model": ErrorResponse,
        "description": description,
        # JSON whatever the route's own media type: `/jobs/{id}/events` streams
        # text/event-stream, but its 404 and 422 are JSON like every other error.
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
        **extra,
    }


AUTH_ERRORS: Responses = {
    status.HTTP_401_UNAUTHORIZED: error_response(
        "No valid API key (asked only when `API_KEYS` is set)."
    ),
    status.HTTP_403_FORBIDDEN: error_response(
        "A change refused: asked with a read-only key (`read_only_key`), or by a browser for "
        "a page of another site, or with Basic credentials and no proof of coming from the "
        "dashboard (`cross_site_refused`)."
    ),
}
STORE_ERRORS: Responses = {
    status.HTTP_503_SERVICE_UNAVAILABLE: error_response(
        "The job store is unreachable, or this process holds `MAX_STREAMS_PER_PROCESS` "
        "event streams and long-polls (`too_many_streams`), or an enqueue reached fewer "
        "replicas than `ENQUEUE_WAIT_REPLICAS` (`enqueue_not_replicated`): try again after "
        "`Retry-After` seconds.",
        headers={
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "required": True,
                "schema": {"type": "integer"},
            }
        },
    ),
}
ERROR_RESPONSES: Responses = {
    **AUTH_ERRORS,
    status.HTTP_404_NOT_FOUND: error_response("No such job (or it expired), or no such job type."),
    status.HTTP_409_CONFLICT: error_response(
        "The job's state does not allow it, or the `Idempotency-Key` came with another input."
    ),
    status.HTTP_413_CONTENT_TOO_LARGE: error_response(
        "The body is larger than `MAX_REQUEST_BYTES`."
    ),
    status.HTTP_422_UNPROCESSABLE_CONTENT: error_response(
        "The request is invalid; `details` lists each problem."
    ),
    **STORE_ERRORS,
}
"""What the job routes can answer besides success: every error is `ErrorResponse` JSON."""

BODY_ERRORS: Responses = {
    status.HTTP_400_BAD_REQUEST: error_response("The body is not JSON (or not UTF-8)."),
    status.HTTP_413_CONTENT_TOO_LARGE: error_response(
        "The body is larger than `MAX_REQUEST_BYTES`."
    ),
    status.HTTP_422_UNPROCESSABLE_CONTENT: error_response(
        "The request is invalid; `details` lists each problem."
    ),
}
"""What a route that reads a JSON body may answer about the body itself."""
