"""Act on many jobs at once, chosen by a filter: abort the waiting ones, retry the failed ones.

An operator's tools for a bad deploy or a poisoned batch (Sidekiq's and Oban Web's bulk
actions). Each call is bounded: it reads at most a budget of listing entries and acts on at
most `limit` jobs, and answers a cursor to go on from, so a backlog of a million is handled
in calls that each take a fraction of a second and hold no lock. A call that finds nothing
answers 0. `dry_run` counts what a call would act on, for a confirmation first.

Each job is acted on by the same code as its single-job route (`abort`, `failed.retry_all`),
so the fencing is theirs: a job that started, or ended, between the listing and the action
is not aborted twice or retried as if failed.
"""

from dataclasses import dataclass

from jobs.declare.registry import JobSpec
from jobs.enqueue.abort import abort
from jobs.layout.connection import RedisClient
from jobs.reading import failed
from jobs.reading.job_record import JobStatus
from jobs.reading.listing import FAILED_STATUSES, JobFilter, Page, list_jobs
from jobs.settings import Settings

MAX_PER_CALL = 1000
"""Jobs acted on per call, at most."""
SCAN_PER_CALL = 20_000
"""Listing entries read per call, at most (most may not match)."""

ABORTABLE = frozenset({JobStatus.queued, JobStatus.deferred, JobStatus.waiting})
"""Running jobs are aborted one by one (`DELETE /jobs/{id}`), knowingly."""
RETRYABLE = frozenset(FAILED_STATUSES)


@dataclass(frozen=True, slots=True)
class Acted:
    count: int
    """Jobs acted on (with `dry_run`: that would be)."""
    skipped: int
    """Jobs that matched but were left: final meanwhile (abort), of a job type no longer
    declared, or whose input no longer fits its model (retry)."""
    next_cursor: str | None
    """Where the next call goes on; None: nothing older is left to look at."""


async def abort_matching(
    redis: RedisClient,
    queues: list[str],
    where: JobFilter,
    settings: Settings,
    *,
    limit: int = MAX_PER_CALL,
    cursor: str | None = None,
    legacy: bool = False,
    dry_run: bool = False,
) -> Acted:
    """Abort the queued, deferred or waiting jobs matching `where` (its statuses narrowed to
    those). One that started meanwhile gets an abort request, as `DELETE /jobs/{id}` would."""
    page = await _matching(redis, queues, _narrowed(where, ABORTABLE), limit, cursor, legacy)
    if dry_run:
        return Acted(len(page.jobs), 0, page.next_cursor)
    count = 0
    for record in page.jobs:
        outcome = await abort(redis, record.id, settings, legacy=legacy)
        count += outcome in ("aborted", "running")
    return Acted(count, len(page.jobs) - count, page.next_cursor)


async def retry_matching(
    redis: RedisClient,
    queues: list[str],
    where: JobFilter,
    catalog: dict[str, JobSpec],
    settings: Settings,
    *,
    limit: int = MAX_PER_CALL,
    cursor: str | None = None,
    legacy: bool = False,
    dry_run: bool = False,
) -> Acted:
    """Retry the failed or aborted jobs matching `where`: each becomes a new job with the same
    input, queue and priority, and leaves the failed registry (a second call does not retry it
    again)."""
    page = await _matching(redis, queues, _narrowed(where, RETRYABLE), limit, cursor, legacy)
    if dry_run:
        return Acted(len(page.jobs), 0, page.next_cursor)
    done = await failed.retry_all(redis, page.jobs, catalog, settings)
    return Acted(done.count, done.skipped, page.next_cursor)


async def _matching(
    redis: RedisClient,
    queues: list[str],
    where: JobFilter,
    limit: int,
    cursor: str | None,
    legacy: bool,
) -> Page:
    """One call's page of matching jobs, its scan bounded by `SCAN_PER_CALL`."""
    return await list_jobs(
        redis, queues, {}, where=where, limit=limit, cursor=cursor, legacy=legacy,
        budget=SCAN_PER_CALL,
    )  # fmt: skip


def _narrowed(where: JobFilter, allowed: frozenset[JobStatus]) -> JobFilter:
    statuses = where.statuses & allowed if where.statuses else allowed
    if not statuses:
        raise ValueError(f"statuses {sorted(where.statuses)}: none of {sorted(allowed)}")
    return JobFilter(statuses, where.name, where.since_ms, where.until_ms)
