"""Retrying a finished workflow: reruns what did not complete, keeps what did (a worker in this
process, real Redis)."""

import asyncio

import pytest

from jobs.client import JobClient
from jobs.graph import workflows
from jobs.graph.batches import create_batch
from jobs.graph.workflow_commit import enqueue_workflow
from jobs.graph.workflow_retry import (
    NodeExpired,
    NothingToRetry,
    RetryInProgress,
    WorkflowRunning,
    retry_workflow,
)
from jobs.graph.workflows import InvalidWorkflow, Workflow, WorkflowState, task
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobRecord, JobStatus, load_job
from settings import Settings
from tests.jobs.graph.test_workflows import final
from tests.support.waiting import eventually
from tests.support.workers import worker_in_background


def failing_flow() -> Workflow:
    """a completes; b fails; c (after a and b) never starts; d (after b, ignore) completes."""
    flow = Workflow()
    flow.add("a", "numbered", {"n": 1})
    flow.add("b", "numbered", {"n": 2, "fail": True}, after=["a"])
    flow.add("c", "gather", {"n": 10}, after=["a", "b"])
    flow.add("d", "gather", {}, after=["b"], on_parent_failure="ignore")
    return flow


async def settled(redis: RedisClient, workflow_id: str) -> WorkflowState:
    async def is_final() -> bool:
        state = await workflows.load(redis, workflow_id, {})
        return state is not None and state.status != "running"

    await eventually(is_final)
    state = await workflows.load(redis, workflow_id, {})
    assert state is not None
    return state


def job(state: WorkflowState, key: str) -> JobRecord:
    found = state.jobs[key]
    assert found is not None
    return found


async def test_a_retry_reruns_what_failed_and_keeps_what_completed(
    redis: RedisClient, settings: Settings
) -> None:
    created = await enqueue_workflow(redis, failing_flow(), settings)
    async with worker_in_background(settings, redis):
        first = await settled(redis, created.id)
        assert first.status == "failed"
        assert job(first, "c").error is not None and job(first, "c").started_at is None
        retried = await retry_workflow(redis, first, settings, inputs={"b": {"n": 2}})
        assert set(retried.rerun) == {"b", "c"} and retried.kept == ["a", "d"]
        after = await settled(redis, created.id)
    assert after.status == "complete"
    a, b, c, d = (job(after, key) for key in "abcd")
    # The completed nodes are the same jobs, run once.
    assert (a.id, d.id) == (created.jobs["a"], created.jobs["d"])
    assert a.tries == 1 and a.finished_at == job(first, "a").finished_at
    assert d.result == job(first, "d").result
    # The rerun ones are new jobs; c reads its kept parent's result beside the new one's.
    assert b.id == retried.rerun["b"] != created.jobs["b"]
    assert b.input == {"n": 2, "fail": False} and b.result == {"n": 2}
    assert c.result["parent_results"] == {a.id: {"n": 1}, b.id: {"n": 2}}
    assert c.result["total"] == 13
    # The first run's jobs stay readable by their ids.
    old_b = await load_job(redis, created.jobs["b"], {})
    assert old_b is not None and old_b.status is JobStatus.failed


async def test_a_rerun_node_keeps_its_input_queue_priority_and_ignore(
    redis: RedisClient, settings: Settings
) -> None:
    flow = Workflow()
    flow.add("a", "numbered", {"n": 5, "fail": True}, queue="other", priority=7)
    flow.add("b", "gather", {"n": 1}, after=["a"], on_parent_failure="ignore")
    flow.add("c", "gather", {}, after=["a"])
    created = await enqueue_workflow(redis, flow, settings)
    async with worker_in_background(settings, redis, worker_queues="arq:queue,other"):
        first = await settled(redis, created.id)
        retried = await retry_workflow(redis, first, settings)
        # Not corrected: a fails again, and c fails without starting again.
        after = await settled(redis, created.id)
    assert set(retried.rerun) == {"a", "c"}
    a = job(after, "a")
    assert (a.queue, a.priority, a.input) == ("other", 7, {"n": 5, "fail": True})
    assert after.status == "failed"
    assert job(after, "c").error is not None and job(after, "c").started_at is None
    assert job(after, "b").id == created.jobs["b"]  # ignore: it completed the first time


async def test_refusals_write_nothing(redis: RedisClient, settings: Settings) -> None:
    created = await enqueue_workflow(redis, failing_flow(), settings)
    running = await workflows.load(redis, created.id, {})
    assert running is not None
    with pytest.raises(WorkflowRunning):
        await retry_workflow(redis, running, settings)
    async with worker_in_background(settings, redis):
        first = await settled(redis, created.id)
    with pytest.raises(InvalidWorkflow) as completed_node:
        await retry_workflow(redis, first, settings, inputs={"a": {"n": 9}})
    assert completed_node.value.node == "a"
    with pytest.raises(InvalidWorkflow) as bad_input:
        await retry_workflow(redis, first, settings, inputs={"b": {"n": "two"}})
    assert (bad_input.value.node, bad_input.value.field) == ("b", "input")
    unchanged = await workflows.load(redis, created.id, {})
    assert unchanged is not None and unchanged.record == first.record


async def test_two_retries_at_once_write_one(redis: RedisClient, settings: Settings) -> None:
    created = await enqueue_workflow(redis, failing_flow(), settings)
    async with worker_in_background(settings, redis):
        first = await settled(redis, created.id)
    outcomes = await asyncio.gather(
        retry_workflow(redis, first, settings, inputs={"b": {"n": 2}}),
        retry_workflow(redis, first, settings, inputs={"b": {"n": 2}}),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, RetryInProgress)]
    assert len(refused) == 1, outcomes
    async with worker_in_background(settings, redis):
        after = await settled(redis, created.id)
    assert after.status == "complete"
    assert after.record.retries == 1
    # A second retry of a complete workflow has nothing to do.
    with pytest.raises(NothingToRetry):
        await retry_workflow(redis, after, settings)


async def test_a_node_expired_refuses_the_retry(redis: RedisClient, settings: Settings) -> None:
    created = await enqueue_workflow(redis, failing_flow(), settings)
    async with worker_in_background(settings, redis):
        first = await settled(redis, created.id)
    gone = {**first.jobs, "a": None}
    with pytest.raises(NodeExpired, match="a"):
        await retry_workflow(redis, WorkflowState(first.id, first.record, gone), settings)


async def test_a_batch_retry_releases_its_callback_once_the_reruns_complete(
    redis: RedisClient, settings: Settings
) -> None:
    batch = await create_batch(
        redis,
        settings,
        [task("numbered", {"n": 1}), task("numbered", {"n": 2, "fail": True})],
        on_success=task("gather", {}),
    )
    jobs = JobClient(redis, settings)
    async with worker_in_background(settings, redis):
        first = await settled(redis, batch.id)
        callback = await final(redis, batch.callbacks["on_success"])
        assert callback.status is JobStatus.failed and callback.started_at is None
        retried = await jobs.retry_workflow(batch.id, {"1": {"n": 2}})
        after = await settled(redis, batch.id)
    assert first.status == "failed" and after.status == "complete"
    assert set(retried.rerun) == {"1", "on_success"}
    done = job(after, "on_success")
    assert done.result["total"] == 3
