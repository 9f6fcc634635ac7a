"""The worker runs jobs to a stored JSON result; retries; timeouts; permanent failures."""

import orjson

from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_job
from settings import Settings
from tests.support.stock_arq import stock_enqueue
from tests.support.workers import RunWorker

MAX = {"ping": 25, "always_permanent": 3, "too_slow": 2, "not_retried_value_error": 3}


async def test_ping_runs_and_result_is_json(
    redis: RedisClient, run_worker: RunWorker, settings: Settings
) -> None:
    enqueued = await enqueue(redis, "ping", {"message": "hello"}, settings=settings)
    raw_job = await redis.get(keys.of_job(enqueued.job_id).job(enqueued.job_id))
    assert orjson.loads(raw_job)["a"] == [{"message": "hello"}]
    await run_worker()
    raw_result = await redis.get(keys.of_job(enqueued.job_id).result(enqueued.job_id))
    result = orjson.loads(raw_result)  # JSON, not pickle: this would raise otherwise
    assert result["s"] is True and "status" not in result  # `s` says complete
    assert result["r"]["message"] == "hello" and result["r"]["tries"] == 1
    record = await load_job(redis, enqueued.job_id, MAX)
    assert record is not None and record.status is JobStatus.complete


async def test_context_gives_the_enqueue_time_as_a_datetime(
    redis: RedisClient, run_worker: RunWorker, settings: Settings
) -> None:
    enqueued = await enqueue(redis, "context_probe", {}, settings=settings)
    await run_worker()
    record = await load_job(redis, enqueued.job_id, {"context_probe": 25})
    assert record is not None and record.status is JobStatus.complete, record
    assert record.enqueued_at is not None
    assert record.result == {"enqueued_at": record.enqueued_at.isoformat()}


async def test_failing_ping_is_retried_until_it_succeeds(
    redis: RedisClient, run_worker: RunWorker, settings: Settings
) -> None:
    enqueued = await enqueue(redis, "ping", {"fail_times": 3}, settings=settings)
    worker = await run_worker()
    record = await load_job(redis, enqueued.job_id, MAX)
    assert record is not None and record.status is JobStatus.complete
    assert record.tries == 4 and record.result["tries"] == 4
    assert worker.counts["retried"] == 3


async def test_permanent_error_is_not_retried(
    redis: RedisClient, run_worker: RunWorker, settings: Settings
) -> None:
    enqueued = await enqueue(redis, "always_permanent", {}, settings=settings)
    await run_worker()
    record = await load_job(redis, enqueued.job_id, MAX)
    assert record is not None and record.status is JobStatus.failed and record.tries == 1
    assert (
        record.error is not None and record.error.type == "JobFailed" and not record.error.retryable
    )


async def test_exception_outside_retry_on_fails_at_once(
    redis: RedisClient, run_worker: RunWorker, settings: Settings
) -> None:
    enqueued = await enqueue(redis, "not_retried_value_error", {}, settings=settings)
    await run_worker()
    record = await load_job(redis, enqueued.job_id, MAX)
    assert record is not None and record.status is JobStatus.failed and record.tries == 1
    assert record.error is not None and record.error.type == "ValueError"


async def test_timed_out_try_is_retried_then_fails(
    redis: RedisClient, run_worker: RunWorker, settings: Settings
) -> None:
    enqueued = await enqueue(redis, "too_slow", {"seconds": 5}, settings=settings)
    await run_worker()
    record = await load_job(redis, enqueued.job_id, MAX)
    assert record is not None and record.status is JobStatus.failed and record.tries == 2
    # Retried once (timeouts are retryable), then final: no further retry, so not retryable.
    assert record.error is not None and record.error.type == "JobTimeout"
    assert record.error.retryable is False
    raw = await redis.get(keys.of_job(enqueued.job_id).result(enqueued.job_id))
    assert orjson.loads(raw)["r"]["type"] == "JobTimeout"
    assert await redis.zscore(keys.of_job(enqueued.job_id).failed, enqueued.job_id) is not None


async def test_invalid_input_from_a_stock_producer_fails_permanently(
    redis: RedisClient, run_worker: RunWorker, settings: Settings
) -> None:
    job = await stock_enqueue(redis, "ping", {"sleep_s": "not a number"})
    await run_worker()
    record = await load_job(redis, job.job_id, MAX)
    assert record is not None and record.status is JobStatus.failed and record.tries == 1
    assert record.error is not None and record.error.type == "InvalidInput"
