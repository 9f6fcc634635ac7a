"""Batches: members and callbacks written together; callbacks see the batch (in-process worker)."""

import pytest

from jobs.graph import workflows
from jobs.graph.batches import create_batch, summarize
from jobs.graph.workflows import InvalidWorkflow, WorkflowTooLarge, task
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.layout.records import JobDefinition, LeaseToken
from jobs.reading.job_record import JobRecord, JobStatus, load_job
from jobs.worker.attempt import Claimed
from settings import Settings
from tests.support.jobs.workflow_jobs import RUNS
from tests.support.waiting import eventually
from tests.support.workers import RunWorker, worker_in_background


async def final(redis: RedisClient, job_id: str) -> JobRecord:
    async def is_final() -> bool:
        found = await load_job(redis, job_id, {})
        return found is not None and found.status.is_final

    await eventually(is_final)
    found = await load_job(redis, job_id, {})
    assert found is not None
    return found


async def test_on_success_runs_once_and_sees_the_batch(
    redis: RedisClient, settings: Settings
) -> None:
    members = [task("numbered", {"n": i}, queue="other" if i % 3 == 0 else None) for i in range(20)]
    created = await create_batch(
        redis,
        settings,
        members,
        on_success=task("batch_callback", {}),
        on_complete=task("batch_callback", {}),
    )
    assert len(created.jobs) == 20 and set(created.callbacks) == {"on_success", "on_complete"}
    async with worker_in_background(settings, redis, worker_queues="arq:queue,other"):
        success = await final(redis, created.callbacks["on_success"])
        complete = await final(redis, created.callbacks["on_complete"])
    for callback in (success, complete):
        assert callback.status is JobStatus.complete, callback.error
        assert callback.result["batch"] == {
            "id": created.id,
            "total": 20,
            "complete": 20,
            "failed": 0,
            "aborted": 0,
        }
        assert set(callback.result["parent_statuses"]) == set(created.jobs)
        assert callback.result["runs"] == 1
    state = await workflows.load(redis, created.id, {})
    assert state is not None
    summary = summarize(state)
    assert (summary.total, summary.pending, summary.complete) == (20, 0, 20)
    assert summary.callbacks["on_success"] is not None


async def test_a_failed_member_fails_on_success_and_runs_on_complete(
    redis: RedisClient, settings: Settings
) -> None:
    members = [task("numbered", {"n": 1}), task("numbered", {"n": 2, "fail": True})]
    created = await create_batch(
        redis,
        settings,
        members,
        on_success=task("batch_callback", {}),
        on_complete=task("batch_callback", {}),
    )
    async with worker_in_background(settings, redis):
        success = await final(redis, created.callbacks["on_success"])
        complete = await final(redis, created.callbacks["on_complete"])
    assert success.status is JobStatus.failed and success.error
    assert success.error.type == "ParentFailed" and success.started_at is None
    assert await redis.get(RUNS + success.id) is None  # never ran
    assert complete.status is JobStatus.complete
    assert complete.result["batch"]["complete"] == 1
    assert complete.result["batch"]["failed"] == 1
    assert complete.result["parent_statuses"][created.jobs[1]] == "failed"
    state = await workflows.load(redis, created.id, {})
    assert state is not None
    summary = summarize(state)
    assert (summary.total, summary.complete, summary.failed, summary.pending) == (2, 1, 1, 0)


async def test_pending_members_are_counted(redis: RedisClient, settings: Settings) -> None:
    created = await create_batch(
        redis, settings, [task("numbered", {"n": 1})], on_complete=task("batch_callback", {})
    )
    state = await workflows.load(redis, created.id, {})
    assert state is not None
    summary = summarize(state)
    assert (summary.total, summary.pending) == (1, 1)
    callback = summary.callbacks["on_complete"]
    assert callback is not None and callback.status is JobStatus.waiting


async def test_invalid_batches_write_nothing(redis: RedisClient, settings: Settings) -> None:
    with pytest.raises(InvalidWorkflow):
        await create_batch(redis, settings, [])
    with pytest.raises(InvalidWorkflow) as refused:
        await create_batch(
            redis, settings, [task("numbered", {"n": 1})], on_success=task("numbered", {"n": "x"})
        )
    assert refused.value.node == "on_success" and refused.value.field == "input"
    small = settings.model_copy(update={"max_batch_jobs": 2})
    with pytest.raises(WorkflowTooLarge):
        await create_batch(redis, small, [task("numbered", {"n": i}) for i in range(3)])
    assert await redis.dbsize() == 0


async def test_a_callback_claimed_before_it_was_final_and_started_after_does_not_run(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    """From a 600 s chaos run: a worker SIGSTOPped just after its pipelined claim took a batch
    callback; a lease later another worker ran it to `complete`; resumed, the stalled worker
    started its try and ran the callback again, with no batch figures and no parents (the
    job's state had gone with its final). A try whose job is final already runs nothing."""
    created = await create_batch(
        redis, settings, [task("numbered", {"n": 1})], on_complete=task("batch_callback", {})
    )
    callback = created.callbacks["on_complete"]
    definition = JobDefinition.load(await redis.get(keys.of_job(callback).job(callback)))
    worker = await run_worker()
    done = await final(redis, callback)
    assert done.status is JobStatus.complete and done.result["runs"] == 1
    worker.ctx["redis"] = redis
    stale = Claimed(callback, definition, 1, LeaseToken("stalled", 1, "c").encode(), 1)
    assert await worker._attempts.run(stale) is None  # nothing to settle
    assert int(await redis.get(RUNS + callback) or 0) == 1  # the body did not run again
    again = await load_job(redis, callback, {})
    assert again is not None and again.result == done.result
