"""Jobs enqueued `after` others, through the scripts, with a worker in this process."""

import httpx
import pytest

from jobs.enqueue.plan import InvalidDependency
from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.graph.dependencies import UnknownParent
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobRecord, JobStatus, load_job
from settings import Settings
from tests.support.waiting import eventually
from tests.support.workers import worker_in_background


async def record(redis: RedisClient, job_id: str) -> JobRecord:
    found = await load_job(redis, job_id, {})
    assert found is not None
    return found


async def final(redis: RedisClient, job_id: str) -> JobRecord:
    async def is_final() -> bool:
        return (await record(redis, job_id)).status.is_final

    await eventually(is_final)
    return await record(redis, job_id)


async def test_child_waits_then_sees_its_parents_results(
    redis: RedisClient, settings: Settings
) -> None:
    a = await enqueue(redis, "numbered", {"n": 1}, settings=settings)
    b = await enqueue(redis, "numbered", {"n": 2}, queue="other", settings=settings)
    child = await enqueue(redis, "gather", {"n": 10}, after=[a.job_id, b.job_id], settings=settings)
    waiting = await record(redis, child.job_id)
    assert waiting.status is JobStatus.waiting
    assert waiting.waiting_on == 2 and waiting.after == [a.job_id, b.job_id]
    async with worker_in_background(settings, redis, worker_queues="arq:queue,other"):
        done = await final(redis, child.job_id)
    assert done.status is JobStatus.complete, done.error
    assert done.result["total"] == 13
    assert done.result["parent_results"] == {a.job_id: {"n": 1}, b.job_id: {"n": 2}}


async def test_failed_parent_fails_the_child_without_starting_it(
    redis: RedisClient, settings: Settings
) -> None:
    bad = await enqueue(redis, "numbered", {"n": 1, "fail": True}, settings=settings)
    child = await enqueue(redis, "gather", {}, after=[bad.job_id], settings=settings)
    grandchild = await enqueue(redis, "gather", {}, after=[child.job_id], settings=settings)
    async with worker_in_background(settings, redis):
        done = await final(redis, grandchild.job_id)
        child_done = await final(redis, child.job_id)
    assert child_done.status is JobStatus.failed
    assert child_done.error is not None and child_done.error.type == "ParentFailed"
    assert bad.job_id in child_done.error.message
    assert child_done.started_at is None and child_done.tries == 0
    assert done.status is JobStatus.failed and done.error and done.error.type == "ParentFailed"


async def test_ignore_runs_anyway_and_says_which_parent_failed(
    redis: RedisClient, settings: Settings
) -> None:
    bad = await enqueue(redis, "numbered", {"n": 1, "fail": True}, settings=settings)
    good = await enqueue(redis, "numbered", {"n": 5}, settings=settings)
    child = await enqueue(
        redis,
        "gather",
        {},
        after=[bad.job_id, good.job_id],
        on_parent_failure="ignore",
        settings=settings,
    )
    async with worker_in_background(settings, redis):
        done = await final(redis, child.job_id)
    assert done.status is JobStatus.complete
    assert done.result["total"] == 5
    assert set(done.result["parent_failures"]) == {bad.job_id}
    assert done.result["parent_failures"][bad.job_id]["status"] == "failed"


async def test_a_parent_final_already_releases_at_once(
    redis: RedisClient, settings: Settings
) -> None:
    parent = await enqueue(redis, "numbered", {"n": 7}, settings=settings)
    async with worker_in_background(settings, redis):
        await final(redis, parent.job_id)
        child = await enqueue(redis, "gather", {}, after=[parent.job_id], settings=settings)
        done = await final(redis, child.job_id)
    assert done.result["total"] == 7


async def test_fan_out_and_fan_in(redis: RedisClient, settings: Settings) -> None:
    root = await enqueue(redis, "numbered", {"n": 0}, settings=settings)
    fanned = await enqueue_many(
        redis, "numbered", [{"n": i} for i in range(1, 51)], after=[root.job_id], settings=settings
    )
    fan_in = await enqueue(redis, "gather", {}, after=[e.job_id for e in fanned], settings=settings)
    async with worker_in_background(settings, redis):
        done = await final(redis, fan_in.job_id)
    assert done.result["total"] == sum(range(1, 51))
    assert len(done.result["parent_results"]) == 50


async def test_aborting_a_waiting_parent_applies_the_rule(
    redis: RedisClient, settings: Settings, client: httpx.AsyncClient
) -> None:
    blocker = await enqueue(redis, "numbered", {"n": 1}, queue="nobody", settings=settings)
    parent = await enqueue(redis, "gather", {}, after=[blocker.job_id], settings=settings)
    child = await enqueue(
        redis, "gather", {}, after=[parent.job_id], queue="other", settings=settings
    )
    response = await client.delete(f"/jobs/{parent.job_id}")
    assert response.status_code in (200, 202), response.text
    async with worker_in_background(settings, redis, worker_queues="other"):
        done = await final(redis, child.job_id)
    assert done.status is JobStatus.failed and done.error and done.error.type == "ParentFailed"
    assert "aborted" in done.error.message


async def test_unknown_parent_is_refused_and_nothing_is_enqueued(
    redis: RedisClient, settings: Settings
) -> None:
    with pytest.raises(UnknownParent) as refused:
        await enqueue(redis, "gather", {}, after=["nope"], settings=settings)
    assert refused.value.job_ids == ["nope"]
    assert await redis.dbsize() == 0
    with pytest.raises(InvalidDependency):
        await enqueue(redis, "gather", {}, after=["x"], defer_by=5, settings=settings)
