"""Progress: `ctx.progress(...)` lands in the JobView; `process_batch` reports after each item."""

from typing import Any

import pytest

import tests.support.jobs.probe_jobs  # noqa: F401  (declares `wait_for_gate`)
from jobs.declare.context import JobContext
from jobs.enqueue.submit import enqueue
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, Progress, load_job
from jobs.tasks.batch import Batch, process_batch
from jobs.worker.loop import Worker
from settings import Settings
from tests.support.waiting import eventually
from tests.support.workers import RunWorker

MAX = {"wait_for_gate": 3, "process_batch": 5}


async def test_process_batch_reports_progress_after_every_item(
    redis: RedisClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[tuple[float, str]] = []
    original = JobContext.progress

    async def record(self: JobContext, fraction: float, message: str = "") -> None:
        reported.append((fraction, message))
        await original(self, fraction, message)

    monkeypatch.setattr(JobContext, "progress", record)
    ctx = JobContext("batch-1", "process_batch", 1, 5, None, "test-worker", redis=redis)
    result = await process_batch(ctx, Batch(items=["a", "b", "c", "d"]))
    assert result.processed == 4
    assert reported == [
        (0.25, "1/4 items"),
        (0.5, "2/4 items"),
        (0.75, "3/4 items"),
        (1.0, "4/4 items"),
    ]


async def test_progress_is_clamped_to_0_1(redis: RedisClient, settings: Settings) -> None:
    enqueued = await enqueue(redis, "wait_for_gate", {}, settings=settings)
    ctx = JobContext(enqueued.job_id, "wait_for_gate", 1, 3, None, "test-worker", redis=redis)
    await ctx.progress(7, "over")
    view = await load_job(redis, enqueued.job_id, MAX)
    assert view is not None and view.progress == Progress(fraction=1.0, message="over")


async def test_running_jobs_progress_shows_in_its_view(
    redis: RedisClient, settings: Settings, background_worker: Worker
) -> None:
    gate = {"gate": "test:gate:progress", "fraction": 0.4, "message": "two of five"}
    enqueued = await enqueue(redis, "wait_for_gate", gate, settings=settings)
    views: list[Any] = []

    async def reported() -> bool:
        view = await load_job(redis, enqueued.job_id, MAX)
        views.append(view)
        return view is not None and view.progress is not None

    await eventually(reported)
    view = views[-1]
    assert view.status is JobStatus.in_progress
    assert view.progress == Progress(fraction=0.4, message="two of five")
    await redis.set("test:gate:progress", "1")

    async def complete() -> bool:
        view = await load_job(redis, enqueued.job_id, MAX)
        views.append(view)
        return view is not None and view.status is JobStatus.complete

    await eventually(complete)
    assert views[-1].progress == Progress(fraction=1.0)


async def test_finished_batch_shows_full_progress_and_its_result(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    enqueued = await enqueue(redis, "process_batch", {"items": ["x", "y"]}, settings=settings)
    await run_worker()
    view = await load_job(redis, enqueued.job_id, MAX)
    assert view is not None and view.status is JobStatus.complete
    assert view.progress is not None and view.progress.fraction == 1.0
    assert view.result["processed"] == 2 and set(view.result["digests"]) == {"x", "y"}
