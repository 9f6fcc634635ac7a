"""Response models of the API (request bodies are the jobs' own input models)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from jobs.store import JobRecord

JobView = JobRecord


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class JobPage(BaseModel):
    jobs: list[JobView]
    next_cursor: str | None
    """Pass as `cursor` to get the next (older) page; null on the last page."""


class CronInfo(BaseModel):
    schedule: str
    """Fields: second minute hour day month weekday (UTC); `*` is every value."""
    next_run: datetime


class JobType(BaseModel):
    name: str
    description: str
    queue: str
    max_tries: int
    timeout_s: float
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    cron: list[CronInfo]


class QueueStats(BaseModel):
    name: str
    queued: int
    deferred: int
    in_progress: int
    failed: int
    oldest_waiting_s: float | None
    workers: int


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    redis: bool
    workers: int
    freshest_heartbeat_s: float | None
    eviction_policy: str | None = None
    """The server's `maxmemory-policy` (null if unreadable); only `noeviction` keeps every job."""
    warnings: list[str] = []
    """Problems that do not make the service unready but lose work (e.g. an evicting policy)."""


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 404, 409, 413, 422, 503)
}
