"""Workflows on a real 3-primary Valkey Cluster: the commit-gate path (no transaction spans
slots), with a real worker process, across two queues on two different primaries."""

import pytest

from jobs.graph import workflows
from jobs.graph.workflow_commit import enqueue_workflow, write_gated
from jobs.graph.workflow_retry import retry_workflow
from jobs.graph.workflow_validation import validate
from jobs.graph.workflows import Workflow
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobRecord, JobStatus, load_job
from settings import Settings
from tests.support.cluster import ClusterProcesses, ValkeyCluster
from tests.support.waiting import eventually

pytestmark = pytest.mark.cluster

QUEUES = ("wf-a", "wf-b")
WORKER_ENV = {
    "JOB_MODULES": "tests.support.jobs.workflow_jobs",
    "WORKER_QUEUES": ",".join(QUEUES),
    "DEPENDENCY_SWEEP_S": "0.5",
}


async def final(redis: RedisClient, job_id: str) -> JobRecord:
    async def is_final() -> bool:
        found = await load_job(redis, job_id, {})
        return found is not None and found.status.is_final

    await eventually(is_final, timeout_s=30, interval_s=0.05)
    found = await load_job(redis, job_id, {})
    assert found is not None
    return found


def diamond() -> Workflow:
    flow = Workflow()
    flow.add("a", "numbered", {"n": 1}, queue=QUEUES[0])
    flow.add("b", "numbered", {"n": 2}, queue=QUEUES[1], after=["a"])
    flow.add("c", "numbered", {"n": 3}, queue=QUEUES[0], after=["a"])
    flow.add("d", "gather", {}, queue=QUEUES[1], after=["b", "c"], on_parent_failure="ignore")
    return flow


@pytest.fixture
def wf_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "job_modules": [*settings.job_modules, "tests.support.jobs.workflow_jobs"],
            "dependency_sweep_s": 0.5,
        }
    )


async def test_a_workflow_across_two_slots_commits_through_its_gate(
    cluster: ValkeyCluster, processes: ClusterProcesses, redis: RedisClient, wf_settings: Settings
) -> None:
    ports = {await cluster.primary_port_of(keys.queue(q).prefix + "due") for q in QUEUES}
    assert len(ports) == 2, "the two queues must live on two primaries"
    await processes.worker(**WORKER_ENV)
    created = await enqueue_workflow(redis, diamond(), wf_settings)
    assert created.gate is not None and created.gate.endswith("@" + QUEUES[0])
    d = await final(redis, created.jobs["d"])
    assert d.status is JobStatus.complete, d.error
    assert d.result["total"] == 5
    assert set(d.result["parent_results"]) == {created.jobs["b"], created.jobs["c"]}
    state = await workflows.load(redis, created.id, {})
    assert state is not None and state.status == "complete"
    assert "Traceback" not in processes.log_text("worker")


async def test_a_workflow_never_committed_on_a_cluster_never_runs(
    processes: ClusterProcesses, redis: RedisClient, wf_settings: Settings
) -> None:
    """A creator that dies before the commit: the sweep fails the gate, then every node,
    without starting one (`d` would run despite failed parents: its rule is ignore)."""
    await processes.worker(**WORKER_ENV)
    planned = validate(diamond(), wf_settings)
    created = await write_gated(redis, wf_settings, planned, commit=False)
    assert created.gate is not None
    for job_id in [created.gate, *created.jobs.values()]:
        job = await final(redis, job_id)
        assert job.status is JobStatus.failed, job
        assert job.error is not None and job.error.type == "ParentFailed"
        assert job.started_at is None and job.tries == 0
    state = await workflows.load(redis, created.id, {})
    assert state is not None and state.status == "failed"


async def test_a_failed_workflow_is_retried_across_slots(
    processes: ClusterProcesses, redis: RedisClient, wf_settings: Settings
) -> None:
    """The retry's nodes go behind a gate of their own; the kept node's result reaches the
    rerun one on the other primary."""
    await processes.worker(**WORKER_ENV)
    flow = Workflow()
    flow.add("a", "numbered", {"n": 1}, queue=QUEUES[0])
    flow.add("b", "numbered", {"n": 2, "fail": True}, queue=QUEUES[1], after=["a"])
    flow.add("c", "gather", {}, queue=QUEUES[0], after=["a", "b"])
    created = await enqueue_workflow(redis, flow, wf_settings)
    await final(redis, created.jobs["c"])
    state = await workflows.load(redis, created.id, {})
    assert state is not None and state.status == "failed"
    retried = await retry_workflow(redis, state, wf_settings, inputs={"b": {"n": 2}})
    c = await final(redis, retried.rerun["c"])
    assert c.status is JobStatus.complete, c.error
    assert c.result["parent_results"] == {created.jobs["a"]: {"n": 1}, retried.rerun["b"]: {"n": 2}}
    after = await workflows.load(redis, created.id, {})
    assert after is not None and after.status == "complete"
    assert after.record.gate not in (None, state.record.gate)
