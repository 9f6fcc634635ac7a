"""A job the worker does not know waits for a worker that does (a rolling deploy): put back,
its try not counted, until `UNKNOWN_JOB_GRACE_S` after its enqueue; then it fails `UnknownJob`.

The job is written the way a newer release's producer would enqueue it: a definition naming a
job no module of this test process declares (end-to-end, with real old and new workers:
`tests/e2e/test_rolling_deploy.py`)."""

import uuid

import orjson

from jobs.enqueue.abort import abort
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobRecord, JobStatus, load_job
from jobs.reading.queues import QueueFigures, all_queue_figures
from jobs.worker.attempt import UNKNOWN_JOB_DELAY_MS
from jobs.worker.settle import Finisher, Settle
from settings import Settings
from tests.support.workers import RunWorker

NEXT = "from_the_next_release"
"""Declared nowhere in this process: only "the new release" would know it."""


async def _server_ms(redis: RedisClient) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def _enqueue_unknown(redis: RedisClient, settings: Settings, age_ms: int = 0) -> str:
    """A job named `NEXT`, due now, enqueued `age_ms` before the server's now."""
    job_id = uuid.uuid4().hex
    now = await _server_ms(redis)
    definition = {"t": 1, "f": NEXT, "a": [{"n": 1}], "k": {}, "et": now - age_ms}
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(keys.of_job(job_id).job(job_id), orjson.dumps(definition))
        pipe.zadd(settings.queue_name, {job_id: now})
        await pipe.execute()
    return job_id


async def _view(redis: RedisClient, job_id: str) -> JobRecord:
    view = await load_job(redis, job_id, {})
    assert view is not None
    return view


async def _figures(redis: RedisClient, settings: Settings) -> QueueFigures:
    (figures,) = [
        f
        for f in await all_queue_figures(redis, [settings.queue_name])
        if f.name == settings.queue_name
    ]
    return figures


async def _due_now(redis: RedisClient, settings: Settings, job_id: str) -> None:
    """What the put-back delay would do, without waiting it out."""
    await redis.zadd(settings.queue_name, {job_id: await _server_ms(redis)})


async def test_an_unknown_job_is_put_back_without_counting_the_try_then_fails_after_the_grace(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    job_id = await _enqueue_unknown(redis, settings)
    q = keys.of_job(job_id)
    enqueued_ms = await _server_ms(redis)

    for _ in range(2):  # put back each time, and the tries counter does not grow
        worker = await run_worker()  # burst: ends while the job waits out its delay
        assert worker.counts["failed"] == 0
        view = await _view(redis, job_id)
        assert view.status is JobStatus.deferred and view.tries == 0 and view.error is None
        assert await redis.hget(q.state(job_id), "tries") == b"0"  # type: ignore[misc]
        due = await redis.zscore(q.due, job_id)
        assert due is not None and due >= enqueued_ms + UNKNOWN_JOB_DELAY_MS
        assert await redis.hgetall(q.unknown) == {job_id.encode(): NEXT.encode()}  # type: ignore[misc]
        figures = await _figures(redis, settings)
        assert figures.unknown_jobs == 1 and figures.unknown_job_names == [NEXT]
        assert figures.deferred == 1
        await _due_now(redis, settings, job_id)

    worker = await run_worker(unknown_job_grace_s=0)  # the grace is over
    assert worker.counts["failed"] == 1
    failed = await _view(redis, job_id)
    assert failed.status is JobStatus.failed and failed.tries == 1
    assert failed.error is not None and failed.error.type == "UnknownJob"
    assert failed.error.retryable is False and NEXT in failed.error.message
    assert await redis.zscore(q.failed, job_id) is not None
    assert await redis.exists(q.unknown) == 0  # no longer waiting for a worker
    figures = await _figures(redis, settings)
    assert figures.unknown_jobs == 0 and figures.unknown_job_names == []


async def test_the_last_put_back_ends_with_the_grace_and_the_job_then_fails(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    """Enqueued 59.8 s before a 60 s grace ends: put back for what is left of it, not for
    the whole delay (a burst worker would stop before a 5 s delay ran out), then failed."""
    job_id = await _enqueue_unknown(redis, settings, age_ms=59_800)
    worker = await run_worker(unknown_job_grace_s=60)
    assert worker.counts["failed"] == 1
    failed = await _view(redis, job_id)
    assert failed.status is JobStatus.failed and failed.tries == 1
    assert failed.error is not None and failed.error.type == "UnknownJob"
    assert "within 60 s" in failed.error.message


async def test_a_job_enqueued_before_the_grace_fails_at_once(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    job_id = await _enqueue_unknown(
        redis, settings, age_ms=int(settings.unknown_job_grace_s * 1000)
    )
    await run_worker()
    failed = await _view(redis, job_id)
    assert failed.status is JobStatus.failed and failed.tries == 1
    assert failed.error is not None and failed.error.type == "UnknownJob"
    assert await redis.exists(keys.of_job(job_id).unknown) == 0


async def test_aborting_a_put_back_job_takes_it_off_the_unknown_jobs(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    job_id = await _enqueue_unknown(redis, settings)
    await run_worker()
    assert (await _figures(redis, settings)).unknown_jobs == 1
    assert await abort(redis, job_id, settings) == "aborted"
    assert (await _view(redis, job_id)).status is JobStatus.aborted
    assert await redis.exists(keys.of_job(job_id).unknown) == 0


async def test_a_put_back_whose_lease_has_gone_is_refused(
    redis: RedisClient, settings: Settings
) -> None:
    """Fenced like every settle: a worker that lost its lease puts nothing back."""
    job_id = await _enqueue_unknown(redis, settings)
    q = keys.of_job(job_id)
    due = await redis.zscore(q.due, job_id)
    stale = Settle.defer(job_id, "stale-token", UNKNOWN_JOB_DELAY_MS, NEXT)
    assert await Finisher(redis, legacy=True).store([stale]) == [job_id]
    assert await redis.zscore(q.due, job_id) == due
    assert await redis.exists(q.unknown, q.state(job_id)) == 0
