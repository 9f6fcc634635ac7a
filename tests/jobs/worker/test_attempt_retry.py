"""Retries: exponential backoff with full jitter, ARQ's `Retry(defer=...)`, what the view shows."""

import time
from datetime import UTC, datetime

import pytest

import jobs.worker.backoff
import tests.support.jobs.probe_jobs  # noqa: F401  (declares `flaky`)
from jobs.enqueue.submit import enqueue
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobRecord, JobStatus, load_job
from jobs.worker.loop import Worker
from settings import Settings
from tests.support.jitter import Ceiling
from tests.support.waiting import eventually
from tests.support.workers import RunWorker

MAX = {"flaky": 4}


async def _view_when(redis: RedisClient, job_id: str, settings: Settings) -> JobRecord:
    """The job's view once a try has failed (its last error is recorded)."""
    found: list[JobRecord] = []

    async def retry_pending() -> bool:
        record = await load_job(redis, job_id, MAX)
        if record is not None and record.error is not None:
            found.append(record)
            return True
        return False

    await eventually(retry_pending)
    return found[-1]


async def test_failed_try_waits_its_backoff_and_the_view_shows_why_and_when(
    redis: RedisClient,
    settings: Settings,
    background_worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        jobs.worker.backoff, "random", Ceiling()
    )  # flaky: base 30 s -> first wait 30 s
    before = datetime.now(UTC)
    enqueued = await enqueue(redis, "flaky", {"fail_times": 1}, settings=settings)
    view = await _view_when(redis, enqueued.job_id, settings)
    assert view.status is JobStatus.deferred and view.tries == 1 and view.max_tries == 4
    assert view.error is not None and view.error.type == "FlakyError" and view.error.retryable
    assert "try 1 fails" in view.error.message
    assert view.scheduled_for is not None
    wait_s = (view.scheduled_for - before).total_seconds()
    assert 29 <= wait_s <= 31 + (datetime.now(UTC) - before).total_seconds()
    assert background_worker.counts["retried"] == 1 and background_worker.counts["complete"] == 0


async def test_arq_retry_with_defer_overrides_the_backoff(
    redis: RedisClient, settings: Settings, background_worker: Worker
) -> None:
    before = time.time()
    enqueued = await enqueue(
        redis, "flaky", {"fail_times": 1, "retry_defer_s": 120}, settings=settings
    )
    view = await _view_when(redis, enqueued.job_id, settings)
    assert view.status is JobStatus.deferred and view.tries == 1
    assert view.error is not None and view.error.type == "Retry" and view.error.retryable
    assert view.scheduled_for is not None
    # Not the job's 30-40 s backoff: the 120 s the job asked for.
    assert view.scheduled_for.timestamp() - before >= 119


async def test_arq_retry_runs_the_job_again_and_it_completes(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    enqueued = await enqueue(
        redis, "flaky", {"fail_times": 2, "retry_defer_s": 0.05}, settings=settings
    )
    worker = await run_worker()
    view = await load_job(redis, enqueued.job_id, MAX)
    assert view is not None and view.status is JobStatus.complete
    assert view.tries == 3 and view.result["tries"] == 3
    assert worker.counts["retried"] == 2


async def test_job_fails_for_good_after_max_tries(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    enqueued = await enqueue(
        redis, "flaky", {"fail_times": 10, "retry_defer_s": 0.01}, settings=settings
    )
    worker = await run_worker()
    view = await load_job(redis, enqueued.job_id, MAX)
    assert view is not None and view.status is JobStatus.failed and view.tries == 4
    assert view.error is not None and view.error.type == "Retry"
    assert worker.counts["retried"] == 3 and worker.counts["failed"] == 1
