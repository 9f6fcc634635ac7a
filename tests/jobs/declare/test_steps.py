"""Durable steps (`ctx.step`): run once per job, replayed by later tries, fenced by the lease."""

import pytest

from jobs.declare import steps
from jobs.declare.context import JobContext
from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_job
from settings import Settings
from tests.support.jobs.step_jobs import effects_key
from tests.support.workers import RunWorker

STEP_JOBS = "tests.support.jobs.step_jobs"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"job_modules": [*settings.job_modules, STEP_JOBS]})


async def _effects(redis: RedisClient, job_id: str) -> list[str]:
    return [e.decode() for e in await redis.lrange(effects_key(job_id), 0, -1)]  # type: ignore[misc]


@pytest.mark.parametrize("name", ["charge_then_fail_once", "charge_in_a_thread"])
async def test_a_retry_replays_recorded_steps_instead_of_running_them(
    redis: RedisClient, settings: Settings, run_worker: RunWorker, name: str
) -> None:
    enqueued = await enqueue(redis, name, {"amount": 42}, settings=settings)
    await run_worker()
    record = await load_job(redis, enqueued.job_id, {})
    assert record is not None and record.status is JobStatus.complete, record
    assert record.tries == 2
    # Each step's side effect happened once, in the first try; the retry read them back.
    if name == "charge_then_fail_once":
        assert await _effects(redis, enqueued.job_id) == ["charge try 1", "ship try 1"]
        assert record.result == f"parcel for ch_{enqueued.job_id} (42)"
        assert record.steps == ["charge", "ship"]
    else:
        assert await _effects(redis, enqueued.job_id) == ["charge try 1"]
        assert record.result == f"ch_{enqueued.job_id} (42)"
        assert record.steps == ["charge"]
    # Final: the recorded results went with the job's state.
    q = keys.of_job(enqueued.job_id)
    assert await redis.exists(q.state(enqueued.job_id)) == 0


async def test_a_step_result_over_the_limit_fails_the_job_without_retrying(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    enqueued = await enqueue(redis, "oversized_step", {}, settings=settings)
    await run_worker()
    record = await load_job(redis, enqueued.job_id, {})
    assert record is not None and record.status is JobStatus.failed
    assert record.tries == 1
    assert record.error is not None and record.error.type == "StepResultTooLarge"


async def test_a_try_that_lost_its_lease_records_no_step(
    redis: RedisClient, settings: Settings
) -> None:
    enqueued = await enqueue(redis, "oversized_step", {}, settings=settings)
    job_id = enqueued.job_id
    q = keys.of_job(job_id)
    await redis.set(q.lease(job_id), "another-worker|1|claim")
    stale = JobContext(
        job_id=job_id,
        name="oversized_step",
        try_=1,
        max_tries=3,
        enqueued_at=None,
        worker_id="stale",
        lease_token="stale-worker|1|claim",
        redis=redis,
    )
    ran: list[str] = []

    async def charge() -> str:
        ran.append("charge")
        return "charged"

    with pytest.raises(steps.StepNotRecorded):
        await stale.step("charge", charge)
    assert ran == ["charge"]  # it ran (the try did not know yet) ...
    assert await redis.hget(q.state(job_id), "step:charge") is None  # type: ignore[misc]
    assert stale.steps == []  # ... but nothing was recorded for the owner to replay


@pytest.mark.parametrize("bad", ["", "a b", "x" * 101, "ü"])
async def test_a_step_name_outside_the_pattern_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="a step's name"):
        steps.check_name(bad)
