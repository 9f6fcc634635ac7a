"""Workflows: validated whole, written all or nothing, run in order (worker in this process)."""

import pytest

from jobs.client import JobClient
from jobs.graph import workflows
from jobs.graph.workflow_commit import enqueue_workflow, write_gated
from jobs.graph.workflow_validation import validate
from jobs.graph.workflows import (
    InvalidWorkflow,
    NodeQueuePinned,
    Workflow,
    WorkflowTooLarge,
    chain,
    chord,
    task,
)
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobRecord, JobStatus, load_job
from settings import Settings
from tests.support.jobs.workflow_jobs import Number, gather, numbered
from tests.support.waiting import eventually
from tests.support.workers import worker_in_background


async def final(redis: RedisClient, job_id: str) -> JobRecord:
    async def is_final() -> bool:
        found = await load_job(redis, job_id, {})
        return found is not None and found.status.is_final

    await eventually(is_final)
    found = await load_job(redis, job_id, {})
    assert found is not None
    return found


async def test_chain_runs_in_order_and_passes_results(
    redis: RedisClient, settings: Settings
) -> None:
    flow = chain(task("numbered", {"n": 1}), task("gather", {"n": 10}), task("gather", {}))
    created = await enqueue_workflow(redis, flow, settings)
    assert created.gate is None  # one Redis: one transaction, no gate
    first = await load_job(redis, created.jobs["1"], {})
    assert first is not None and first.status is JobStatus.waiting
    async with worker_in_background(settings, redis):
        last = await final(redis, created.jobs["2"])
    assert last.status is JobStatus.complete
    middle = await _result(redis, created, "1")
    assert isinstance(middle, dict) and middle["total"] == 11  # 10 + its parent's n
    assert last.result["parent_results"] == {created.jobs["1"]: middle}
    state = await workflows.load(redis, created.id, {})
    assert state is not None and state.status == "complete"
    assert set(state.jobs) == {"0", "1", "2"}


async def _result(redis: RedisClient, created: workflows.Created, key: str) -> object:
    found = await load_job(redis, created.jobs[key], {})
    assert found is not None
    return found.result


async def test_a_failing_middle_step_fails_the_rest_or_is_ignored(
    redis: RedisClient, settings: Settings
) -> None:
    flow = Workflow()
    flow.add("a", "numbered", {"n": 1})
    flow.add("b", "numbered", {"n": 2, "fail": True}, after=["a"])
    flow.add("c", "gather", {}, after=["b"])
    flow.add("d", "gather", {}, after=["b"], on_parent_failure="ignore")
    created = await enqueue_workflow(redis, flow, settings)
    async with worker_in_background(settings, redis):
        c = await final(redis, created.jobs["c"])
        d = await final(redis, created.jobs["d"])
    assert c.status is JobStatus.failed and c.error and c.error.type == "ParentFailed"
    assert c.started_at is None
    assert d.status is JobStatus.complete
    assert list(d.result["parent_failures"]) == [created.jobs["b"]]
    state = await workflows.load(redis, created.id, {})
    assert state is not None and state.status == "failed"


async def test_chord_fans_in_across_queues(redis: RedisClient, settings: Settings) -> None:
    header = [task("numbered", {"n": i}, queue="other" if i % 2 else None) for i in range(1, 11)]
    created = await enqueue_workflow(redis, chord(header, task("gather", {})), settings)
    assert created.id.endswith("@other")  # the first root is on "other": so is the workflow
    async with worker_in_background(settings, redis, worker_queues="arq:queue,other"):
        done = await final(redis, created.jobs["callback"])
    assert done.result["total"] == 55
    assert len(done.result["parent_results"]) == 10


@pytest.mark.parametrize(
    ("build", "node", "field"),
    [
        (lambda f: f.add("a", "no_such_job", {}), "a", "job"),
        (lambda f: f.add("a", "numbered", {"n": "many"}), "a", "input"),
        (lambda f: f.add("a", "gather", {}, after=["zz"]), "a", "after"),
        (lambda f: f.add("bad key!", "gather", {}), "bad key!", "key"),
        (lambda f: f.add("a", "gather", {}, priority=-1), "a", "priority"),
    ],
)
async def test_an_invalid_node_is_named_and_nothing_is_written(
    redis: RedisClient, settings: Settings, build: object, node: str, field: str
) -> None:
    flow = Workflow()
    flow.add("ok", "numbered", {"n": 1})
    build(flow)  # type: ignore[operator]
    with pytest.raises(InvalidWorkflow) as refused:
        await enqueue_workflow(redis, flow, settings)
    assert (refused.value.node, refused.value.field) == (node, field)
    assert await redis.dbsize() == 0


async def test_a_cycle_is_named(redis: RedisClient, settings: Settings) -> None:
    flow = Workflow()
    flow.add("root", "numbered", {"n": 1})
    flow.add("a", "gather", {}, after=["root", "c"])
    flow.add("b", "gather", {}, after=["a"])
    flow.add("c", "gather", {}, after=["b"])
    with pytest.raises(InvalidWorkflow) as refused:
        await enqueue_workflow(redis, flow, settings)
    assert refused.value.details["errors"] == ["a", "c", "b", "a"]
    assert "a -> c -> b -> a" in str(refused.value)
    assert await redis.dbsize() == 0


def test_size_limit_and_pinned_queues_are_refused(settings: Settings) -> None:
    small = settings.model_copy(update={"max_workflow_nodes": 2})
    flow = chain(*[task("numbered", {"n": i}) for i in range(3)])
    with pytest.raises(WorkflowTooLarge):
        validate(flow, small)
    pinned = Workflow()
    pinned.add("a", "three_at_a_time", {"label": "x"}, queue="elsewhere")
    with pytest.raises(NodeQueuePinned) as refused:
        validate(pinned, settings)
    assert refused.value.node == "a"


async def test_commit_gate_path_runs_the_workflow(redis: RedisClient, settings: Settings) -> None:
    flow = Workflow()
    flow.add("a", "numbered", {"n": 3})
    flow.add("b", "numbered", {"n": 4}, queue="other")
    flow.add("c", "gather", {}, after=["a", "b"])
    created = await write_gated(redis, settings, validate(flow, settings))
    assert created.gate is not None
    async with worker_in_background(settings, redis, worker_queues="arq:queue,other"):
        c = await final(redis, created.jobs["c"])
    assert c.status is JobStatus.complete
    # The gate is no parent the job sees.
    assert c.result["parent_results"] == {created.jobs["a"]: {"n": 3}, created.jobs["b"]: {"n": 4}}
    gate = await load_job(redis, created.gate, {})
    assert gate is not None and gate.status is JobStatus.complete


async def test_a_workflow_never_committed_never_runs(
    redis: RedisClient, settings: Settings
) -> None:
    """What a crash before the commit leaves: the sweep fails the gate, and every node after
    it, without starting one (an `ignore` node too)."""
    fast = settings.model_copy(update={"dependency_sweep_s": 0.2})
    flow = Workflow()
    flow.add("a", "numbered", {"n": 1})
    flow.add("b", "gather", {}, after=["a"], on_parent_failure="ignore")
    flow.add("c", "gather", {}, after=["b"])
    created = await write_gated(redis, fast, validate(flow, fast), commit=False)
    assert created.gate is not None
    async with worker_in_background(fast, redis):
        outcomes = [await final(redis, job_id) for job_id in created.jobs.values()]
        gate = await final(redis, created.gate)
    assert gate.status is JobStatus.failed and gate.error and gate.error.type == "ParentFailed"
    assert "missing" in gate.error.message
    for job in outcomes:
        assert job.status is JobStatus.failed, job
        assert job.error is not None and job.error.type == "ParentFailed"
        assert job.started_at is None and job.tries == 0
    state = await workflows.load(redis, created.id, {})
    assert state is not None and state.status == "failed"


async def test_unknown_workflow_reads_as_none(redis: RedisClient) -> None:
    assert await workflows.load(redis, "nope", {}) is None
    assert await workflows.load(redis, "bad id!", {}) is None


async def test_the_job_client_enqueues_workflows_and_batches(
    redis: RedisClient, settings: Settings
) -> None:
    jobs = JobClient(redis, settings)
    created = await jobs.enqueue_workflow(chain(task(numbered, Number(n=4)), task(gather, {})))
    batch = await jobs.enqueue_batch([task("numbered", {"n": 1})], on_success=task(gather, {}))
    async with worker_in_background(settings, redis):
        last = await final(redis, created.jobs["1"])
        callback = await final(redis, batch.callbacks["on_success"])
    assert last.result["total"] == 4
    assert callback.status is JobStatus.complete


async def test_links_across_enqueue_calls_and_within_one(
    redis: RedisClient, settings: Settings
) -> None:
    """600 parents on one queue take two enqueue calls (500 rows each at most): the script
    links the parents of its own call, the callback's other parents are linked after it."""
    header = [task("numbered", {"n": 1}) for _ in range(600)]
    created = await enqueue_workflow(redis, chord(header, task("gather", {})), settings)
    async with worker_in_background(settings, redis):
        done = await final(redis, created.jobs["callback"])
    assert done.status is JobStatus.complete and done.result["total"] == 600
