"""The typed client: validated before anything is queued, typed results, typed failures."""

import pytest

import tests.support.jobs.probe_jobs  # noqa: F401  (declares `wait_for_gate`)
from jobs.client import InvalidJobInput, JobAbortedError, JobClient, JobFailedError
from jobs.declare.context import JobContext
from jobs.enqueue.plan import UnknownJobName
from jobs.layout.connection import RedisClient
from jobs.tasks.ping import Ping, Pong, ping
from jobs.worker.loop import Worker
from settings import Settings
from tests.support.jobs.probe_jobs import Gate, wait_for_gate
from tests.support.jobs.sample_jobs import Empty, always_permanent


async def test_enqueue_by_function_gives_a_typed_result(
    redis: RedisClient, settings: Settings, background_worker: Worker
) -> None:
    jobs = JobClient(redis, settings)
    handle = await jobs.enqueue(ping, Ping(message="typed"), priority=3)
    pong = await handle.result(timeout=10)
    assert isinstance(pong, Pong) and pong.message == "typed" and pong.tries == 1
    status = await handle.status()
    assert status.status == "complete" and status.priority == 3


async def test_invalid_input_raises_before_anything_is_queued(
    redis: RedisClient, settings: Settings
) -> None:
    jobs = JobClient(redis, settings)
    with pytest.raises(InvalidJobInput) as caught:
        await jobs.enqueue(ping, {"sleep_s": "soon"})
    assert caught.value.errors[0]["loc"] == ("sleep_s",)
    with pytest.raises(InvalidJobInput):
        await jobs.enqueue_many(ping, [{}, {"fail_times": -1}])
    assert await redis.dbsize() == 0


async def test_a_function_that_is_not_a_job_raises(redis: RedisClient, settings: Settings) -> None:
    async def not_a_job(ctx: JobContext, payload: Ping) -> Pong:
        raise AssertionError("never runs")

    jobs = JobClient(redis, settings)
    with pytest.raises(UnknownJobName):
        await jobs.enqueue(not_a_job, Ping())
    with pytest.raises(UnknownJobName):
        await jobs.enqueue("send_emial", {})
    assert await redis.dbsize() == 0


async def test_failed_and_aborted_jobs_raise_typed_errors_and_timeouts_raise(
    redis: RedisClient, settings: Settings, background_worker: Worker
) -> None:
    jobs = JobClient(redis, settings)
    failed = await jobs.enqueue(always_permanent, Empty())
    with pytest.raises(JobFailedError) as caught:
        await failed.result(timeout=10)
    assert caught.value.record.error is not None
    assert caught.value.record.error.type == "JobFailed"

    waiting = await jobs.enqueue(wait_for_gate, Gate(gate="test:gate:client"))
    with pytest.raises(TimeoutError):
        await waiting.result(timeout=0.3)
    assert await waiting.abort()
    with pytest.raises(JobAbortedError):
        await waiting.result(timeout=10)


async def test_enqueue_many_keeps_order_and_types(
    redis: RedisClient, settings: Settings, background_worker: Worker
) -> None:
    jobs = JobClient(redis, settings)
    handles = await jobs.enqueue_many(ping, [Ping(message=str(n)) for n in range(5)])
    results = [await h.result(timeout=10) for h in handles]
    assert [r.message for r in results] == ["0", "1", "2", "3", "4"]


async def test_enqueue_after_waits_for_the_parents_and_applies_the_rule(
    redis: RedisClient, settings: Settings
) -> None:
    jobs = JobClient(redis, settings)
    parent = await jobs.enqueue(always_permanent, Empty())
    failing = await jobs.enqueue(ping, Ping(message="never"), after=[parent.id])
    assert (await failing.status()).status == "waiting"
    [second, third] = await jobs.enqueue_many(
        ping, [Ping(), Ping()], after=[parent.id], on_parent_failure="ignore"
    )
    assert (await second.status()).after == [parent.id]
    worker = Worker(settings, burst=True, handle_signals=False)
    await worker.main()
    with pytest.raises(JobFailedError) as failed:
        await failing.result(timeout=10)  # the default rule: fail
    assert failed.value.record.error is not None
    assert failed.value.record.error.type == "ParentFailed"
    assert (await second.result(timeout=10)).tries == 1
    assert (await third.status()).status == "complete"


async def test_a_plain_function_is_enqueued_with_its_parameters_as_keywords(
    redis: RedisClient, settings: Settings
) -> None:
    from tests.support.jobs.plain_jobs import add, shout
    from tests.support.workers import worker_in_background

    jobs = JobClient(redis, settings)
    with pytest.raises(InvalidJobInput) as caught:
        await jobs.enqueue(shout, message="", times="x")
    assert {e["loc"] for e in caught.value.errors} == {("message",), ("times",)}
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['volume'\\]"):
        await jobs.enqueue(shout, message="hi", volume=11)
    assert await redis.dbsize() == 0

    modules = [*settings.job_modules, "tests.support.jobs.plain_jobs"]
    async with worker_in_background(settings, redis, job_modules=modules):
        loud = await jobs.enqueue(shout, message="hi", times=2, priority=4)
        assert await loud.result(timeout=10) == "HI HI"  # the plain value, not a model
        assert (await loud.status()).priority == 4  # the option beside the parameters
        summed = await jobs.enqueue(add, {"a": 2, "b": 40})  # a dict still works
        assert await summed.result(timeout=10) == 42
