"""`POST /jobs/abort` and `POST /jobs/retry`: act on the jobs a filter chooses, a bounded
number per call, resumable with a cursor (`jobs.enqueue.by_filter`)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import ConfigDict, Field, StringConstraints, model_validator

from jobs.declare.models import Model
from jobs.enqueue import by_filter
from jobs.reading.job_record import JobStatus
from jobs.reading.listing import JobFilter
from service.declared import known_queue
from service.deps import CatalogDep, RedisDep, SettingsDep
from service.enqueue_options import Rfc3339DateTime
from service.routes.jobs import known_queues
from service.schemas import BODY_ERRORS, ERROR_RESPONSES
from service.views import reads_legacy

router = APIRouter(tags=["jobs"], responses={**ERROR_RESPONSES, **BODY_ERRORS})

QueueName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")]
Cursor = Annotated[str, StringConstraints(max_length=300, pattern=r"^\d+:[\w:.\-@]+$")]


class _Selection(Model):
    """Which jobs: every criterion given must hold. At least one is required, so that an empty
    body never means every job."""

    model_config = ConfigDict(extra="forbid")  # a misspelt criterion must not widen the match

    status: Sequence[str] | None = None
    """Narrowed by each action to the states it acts on."""
    queue: QueueName | None = None
    name: str | None = Field(default=None, max_length=200)
    created_after: Rfc3339DateTime | None = None
    """Enqueued at or after."""
    created_before: Rfc3339DateTime | None = None
    """Enqueued before."""
    limit: int = Field(default=by_filter.MAX_PER_CALL, ge=1, le=by_filter.MAX_PER_CALL)
    """Act on at most this many jobs in this call."""
    cursor: Cursor | None = None
    """`next_cursor` of the previous call: go on from there."""
    dry_run: bool = False
    """Only count what this call would act on (for a confirmation first)."""

    @model_validator(mode="after")
    def _some_criterion(self) -> "_Selection":
        criteria = (self.status, self.queue, self.name, self.created_after, self.created_before)
        if all(c is None for c in criteria):
            raise ValueError(
                "give at least one of queue, name, status, created_after, created_before"
            )
        return self

    def where(self) -> JobFilter:
        return JobFilter(
            statuses=frozenset(JobStatus(s) for s in self.status or ()),
            name=self.name,
            since_ms=_ms(self.created_after),
            until_ms=_ms(self.created_before),
        )


class AbortSelection(_Selection):
    status: list[Literal["queued", "deferred", "waiting"]] | None = Field(
        default=None, min_length=1
    )
    """Only jobs in these states (default: all three)."""


class RetrySelection(_Selection):
    status: list[Literal["failed", "aborted"]] | None = Field(default=None, min_length=1)
    """Only jobs in these states (default: both)."""


class Acted(Model):
    count: int
    """Jobs acted on (with `dry_run`: that would be)."""
    skipped: int
    """Matched but left: final meanwhile (abort), or a job type no longer declared or whose
    input no longer fits its model (retry)."""
    next_cursor: str | None
    """Pass as `cursor` to go on with older jobs; null: none are left to look at."""


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else round(moment.timestamp() * 1000)


async def _queues(
    selection: _Selection, redis: RedisDep, catalog: CatalogDep, settings: SettingsDep
) -> list[str]:
    """The queue asked for (404 if nothing declares it), or every known one."""
    if selection.queue:
        return [await known_queue(selection.queue, redis, catalog, settings)]
    return await known_queues(redis, catalog, settings)


@router.post("/jobs/abort")
async def abort_jobs(
    selection: AbortSelection, redis: RedisDep, catalog: CatalogDep, settings: SettingsDep
) -> Acted:
    """Abort the queued, deferred and waiting jobs a filter chooses, newest first: at most
    `limit` (1000) per call; go on with `next_cursor`. One that started meanwhile gets an
    abort request, as `DELETE /jobs/{id}` would. Running jobs are not chosen."""
    queues = await _queues(selection, redis, catalog, settings)
    done = await by_filter.abort_matching(
        redis,
        queues,
        selection.where(),
        settings,
        limit=selection.limit,
        cursor=selection.cursor,
        legacy=reads_legacy(settings),
        dry_run=selection.dry_run,
    )
    return Acted(count=done.count, skipped=done.skipped, next_cursor=done.next_cursor)


@router.post("/jobs/retry")
async def retry_jobs(
    selection: RetrySelection, redis: RedisDep, catalog: CatalogDep, settings: SettingsDep
) -> Acted:
    """Retry the failed and aborted jobs a filter chooses, newest first: each becomes a new job
    with the same input, queue and priority, and leaves the failed list. At most `limit`
    (1000) per call; go on with `next_cursor`."""
    queues = await _queues(selection, redis, catalog, settings)
    done = await by_filter.retry_matching(
        redis,
        queues,
        selection.where(),
        catalog,
        settings,
        limit=selection.limit,
        cursor=selection.cursor,
        legacy=reads_legacy(settings),
        dry_run=selection.dry_run,
    )
    return Acted(count=done.count, skipped=done.skipped, next_cursor=done.next_cursor)
