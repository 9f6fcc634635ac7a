"""A stock ARQ client reads the outcome of a stock ARQ producer's jobs that our worker ran
(single Redis, default queue): `arq.jobs.Job.status()` and `Job.result()`, with
`arq_deserialize` as its deserializer, the way the pool of `jobs.layout.connection` sets one up."""

import asyncio

import pytest
from arq.jobs import Job, JobStatus

import tests.support.jobs.probe_jobs  # noqa: F401  (declares `wait_for_gate`)
from jobs.enqueue.abort import abort
from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.layout.serialization import FailedJobError, arq_deserialize
from jobs.worker.loop import Worker
from settings import Settings
from tests.support.stock_arq import stock_enqueue
from tests.support.waiting import eventually
from tests.support.workers import RunWorker

POLL_S = 0.02
"""How often `Job.result()` looks (ARQ's default is every 0.5 s)."""


async def test_stock_client_reads_the_result_of_a_stock_producers_job(
    redis: RedisClient, run_worker: RunWorker
) -> None:
    job = await stock_enqueue(redis, "ping", {"message": "from arq"})
    assert await job.status() is JobStatus.queued
    await run_worker()
    result = await job.result(timeout=10, poll_delay=POLL_S)
    assert result["message"] == "from arq" and result["tries"] == 1
    assert await job.status() is JobStatus.complete
    info = await job.result_info()
    assert info is not None and info.success and info.job_try == 1 and info.function == "ping"
    assert info.start_time <= info.finish_time
    assert not await redis.exists(keys.LEGACY_JOB + job.job_id)


async def test_stock_client_sees_a_running_job_in_progress(
    redis: RedisClient, background_worker: Worker
) -> None:
    job = await stock_enqueue(redis, "wait_for_gate", {"gate": "test:gate:arq"})

    async def running() -> bool:
        return await job.status() is JobStatus.in_progress

    await eventually(running)
    await redis.set("test:gate:arq", 1)
    result = await job.result(timeout=10, poll_delay=POLL_S)
    assert result["tries"] == 1 and result["worker"] == background_worker.worker_id
    assert await job.status() is JobStatus.complete
    assert not await redis.exists(keys.LEGACY_IN_PROGRESS + job.job_id)


async def test_a_failed_job_raises_its_stored_error_in_the_stock_client(
    redis: RedisClient, run_worker: RunWorker
) -> None:
    job = await stock_enqueue(redis, "always_permanent", {})
    await run_worker()
    with pytest.raises(FailedJobError) as raised:
        await job.result(timeout=10, poll_delay=POLL_S)
    assert raised.value.type == "JobFailed" and raised.value.message == "no point retrying"
    assert raised.value.retryable is False
    assert await job.status() is JobStatus.complete  # ARQ tells no failure from success here


async def test_an_aborted_job_raises_cancelled_in_the_stock_client(
    redis: RedisClient, settings: Settings
) -> None:
    job = await stock_enqueue(redis, "ping", {"message": "never"})
    assert await abort(redis, job.job_id, settings, legacy=True) == "aborted"
    with pytest.raises(asyncio.CancelledError):  # what stock ARQ's `Job.abort()` waits for
        await job.result(timeout=10, poll_delay=POLL_S)


async def test_jobs_enqueued_by_our_client_get_no_arq_copy(
    redis: RedisClient, run_worker: RunWorker, settings: Settings
) -> None:
    """A copy per job would cost every job a write and its record's memory again (issue 19's
    figures in bench/README.md): our jobs are read through our API."""
    enqueued = await enqueue(redis, "ping", {"message": "ours"}, settings=settings)
    job = Job(enqueued.job_id, redis, _deserializer=arq_deserialize)
    await run_worker()
    assert await redis.exists(keys.of_job(enqueued.job_id).result(enqueued.job_id))
    assert not await redis.exists(keys.LEGACY_RESULT + enqueued.job_id)
    assert await job.status() is JobStatus.not_found


async def test_jobs_of_other_queues_get_no_arq_result(
    redis: RedisClient, run_worker: RunWorker, settings: Settings
) -> None:
    enqueued = await enqueue(redis, "on_emails_queue", {}, settings=settings)
    await run_worker(worker_queues="emails")
    assert await redis.exists(keys.of_job(enqueued.job_id).result(enqueued.job_id))
    assert not await redis.exists(keys.LEGACY_RESULT + enqueued.job_id)


async def test_a_retried_stock_job_is_read_once_its_last_try_ends(
    redis: RedisClient, background_worker: Worker
) -> None:
    job = await stock_enqueue(redis, "flaky", {"fail_times": 1, "retry_defer_s": 0.01})
    result = await job.result(timeout=10, poll_delay=POLL_S)
    assert result["tries"] == 2
    info = await job.result_info()
    assert info is not None and info.job_try == 2
    assert await job.status() is JobStatus.complete
    assert not await redis.exists(keys.LEGACY_IN_PROGRESS + job.job_id)
