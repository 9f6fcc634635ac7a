"""Durable sleep and signals: the try ends without counting, the job holds no slot meanwhile,
and the next try goes on from its recorded steps."""

import httpx
import pytest

from jobs.client import JobClient
from jobs.enqueue.submit import enqueue
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


async def test_a_durable_sleep_resumes_the_job_without_a_new_try(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    enqueued = await enqueue(redis, "nap_between_steps", {"seconds": 0.3}, settings=settings)
    worker = await run_worker()
    record = await load_job(redis, enqueued.job_id, {})
    assert record is not None and record.status is JobStatus.complete, record
    assert (record.result, record.tries) == (1, 1)  # the sleep did not count as a try
    assert await _effects(redis, enqueued.job_id) == ["before", "after"]
    assert record.steps == ["before", "after"]
    assert worker.counts["suspended"] == 1


@pytest.mark.parametrize("name", ["wait_for_approval", "wait_for_approval_in_a_thread"])
async def test_a_signal_wakes_a_parked_job_with_its_body(
    client: httpx.AsyncClient,
    redis: RedisClient,
    settings: Settings,
    run_worker: RunWorker,
    name: str,
) -> None:
    job_id = (await enqueue(redis, name, {}, settings=settings)).job_id
    await run_worker()  # it parks: nothing else runs, so the burst ends
    parked = (await client.get(f"/jobs/{job_id}")).json()
    assert (parked["status"], parked["waiting_for_signal"], parked["tries"]) == (
        "waiting",
        "approved",
        0,
    )
    assert parked["scheduled_for"] is not None  # when it stops waiting

    other = await client.post(f"/jobs/{job_id}/signals/rejected", json={"by": "bob"})
    assert other.status_code == 409, other.text
    assert other.json()["error"]["details"]["waiting_for_signal"] == "approved"
    sent = await client.post(f"/jobs/{job_id}/signals/approved", json={"by": "ann"})
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] == "queued"
    again = await client.post(f"/jobs/{job_id}/signals/approved", json={"by": "ann"})
    assert again.status_code == 409  # no longer waiting: nothing kept for later

    await run_worker()
    done = (await client.get(f"/jobs/{job_id}")).json()
    assert done["status"] == "complete", done
    assert done["tries"] == 1
    if name == "wait_for_approval":
        assert done["result"] == {"decision": {"by": "ann"}, "try": 1}
        assert await _effects(redis, job_id) == ["asked"]  # the step before ran once
    else:
        assert done["result"] == {"by": "ann"}
    final = await client.post(f"/jobs/{job_id}/signals/approved", json={})
    assert final.status_code == 409


async def test_no_signal_within_the_timeout_fails_the_job_with_a_typed_error(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    enqueued = await enqueue(redis, "wait_for_approval", {"timeout_s": 0.2}, settings=settings)
    await run_worker()
    record = await load_job(redis, enqueued.job_id, {})
    assert record is not None and record.status is JobStatus.failed, record
    assert record.error is not None and record.error.type == "SignalTimeout"
    assert record.tries == 1


async def test_signals_from_python_and_bad_requests(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    job_id = (await enqueue(redis, "wait_for_approval", {}, settings=settings)).job_id
    jobs = JobClient(redis, settings)
    assert await jobs.send_signal(job_id, "approved", "too early") is False  # still queued
    await run_worker()
    assert (await client.post("/jobs/nope/signals/approved", json={})).status_code == 404
    bad_name = await client.post(f"/jobs/{job_id}/signals/no spaces", json={})
    assert bad_name.status_code == 422
    huge = await client.post(f"/jobs/{job_id}/signals/approved", json="x" * 70_000)
    assert huge.status_code == 413
    assert await jobs.send_signal(job_id, "approved", ["yes"]) is True
    await run_worker()
    record = await load_job(redis, job_id, {})
    assert record is not None and record.result == {"decision": ["yes"], "try": 1}
