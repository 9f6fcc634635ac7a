"""The test kit's `drain` (jobs.testing): queued jobs run in-process with a real worker; a job
that raises fails the test with its exception unless told; deferred ones run on request."""

import pytest

from jobs.client import JobClient
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus
from jobs.tasks.ping import Ping, PingFailure, ping
from jobs.testing.drain import Drain, JobRaised
from settings import Settings
from tests.support.jobs.sample_jobs import Empty, always_permanent


@pytest.fixture
def jobs(jobs_redis: RedisClient, jobs_settings: Settings) -> JobClient:
    # A second queue, declared as an application declares one (`QUEUES`).
    return JobClient(jobs_redis, jobs_settings.model_copy(update={"queues": ["elsewhere"]}))


async def test_drain_runs_every_queued_job_and_returns_their_views(
    jobs: JobClient, drain: Drain
) -> None:
    first = await jobs.enqueue(ping, Ping(message="one"))
    second = await jobs.enqueue(ping, Ping(message="two"), queue="elsewhere")
    views = await drain()
    assert {v.id for v in views} == {first.id, second.id}
    assert all(v.status is JobStatus.complete for v in views)
    assert (await first.result()).message == "one"
    assert await drain() == []


async def test_a_job_that_raises_fails_the_drain_with_its_exception(
    jobs: JobClient, drain: Drain
) -> None:
    await jobs.enqueue(ping, Ping(fail_times=1))
    with pytest.raises(JobRaised) as raised:
        await drain()
    assert isinstance(raised.value.__cause__, PingFailure)
    assert raised.value.__cause__.__traceback__ is not None  # the job's own frames


async def test_unless_the_test_expects_it(jobs: JobClient, drain: Drain) -> None:
    retried = await jobs.enqueue(ping, Ping(fail_times=1))
    failed = await jobs.enqueue(always_permanent, Empty())
    views = {v.id: v for v in await drain(raise_on_failure=False)}
    assert views[retried.id].status is JobStatus.complete and views[retried.id].tries == 2
    error = views[failed.id].error
    assert views[failed.id].status is JobStatus.failed
    assert error is not None and error.type == "JobFailed"


async def test_deferred_jobs_run_only_when_asked(jobs: JobClient, drain: Drain) -> None:
    later = await jobs.enqueue(ping, Ping(message="later"), defer_by=3600)
    assert await drain() == []
    assert (await later.status()).status is JobStatus.deferred
    (view,) = await drain(deferred=True)
    assert view.id == later.id and view.status is JobStatus.complete


async def test_each_test_starts_from_an_empty_database(jobs_redis: RedisClient) -> None:
    assert await jobs_redis.dbsize() == 0
