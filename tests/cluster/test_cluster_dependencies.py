"""Dependencies on a real 3-primary Valkey Cluster, with two worker processes: parents and
children on queues of different slots (on different primaries), released across slots: by
the settling worker (release.lua on the child's slot), and by a sweep when that worker died
right after its settle."""

import pytest

from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus
from settings import Settings
from tests.support.cluster import ClusterProcesses, ValkeyCluster, slot_of
from tests.support.crashes import sweep_sends_once_the_releases_a_dead_worker_owed
from tests.support.dependencies import (
    dependency_settings,
    dependency_worker,
    final_records,
    runs,
)
from tests.support.queues import TEST_QUEUES
from tests.support.report import report

pytestmark = pytest.mark.cluster


async def _queues_on_three_primaries(cluster: ValkeyCluster) -> list[str]:
    """Three queue names whose keys live on three different primaries."""
    by_port: dict[int, str] = {}
    for name in TEST_QUEUES:  # declared ones (`QUEUES`): an enqueue names no other
        by_port.setdefault(await cluster.primary_port_of(keys.queue(name).due), name)
        if len(by_port) == 3:
            return list(by_port.values())
    raise AssertionError(f"three primaries expected, found {sorted(by_port)}")


async def test_parents_release_children_across_slots(
    cluster: ValkeyCluster, processes: ClusterProcesses, redis: RedisClient, settings: Settings
) -> None:
    """20 parents on two queues, a fan-in on a third; and a chain through all three."""
    s = dependency_settings(settings)
    a, b, c = await _queues_on_three_primaries(cluster)
    served = f"{a},{b},{c}"
    for _ in range(2):
        await dependency_worker(processes, served)
    parents = []
    for queue in (a, b):
        parents += await enqueue_many(
            redis,
            "counted",
            [{"label": f"{queue}-{i}"} for i in range(10)],
            queue=queue,
            settings=s,
        )
    fan_in = await enqueue(
        redis,
        "counted",
        {"label": "fan-in"},
        queue=c,
        after=[p.job_id for p in parents],
        settings=s,
    )
    first = await enqueue(redis, "numbered", {"n": 1}, queue=a, settings=s)
    second = await enqueue(redis, "numbered", {"n": 2}, queue=b, after=[first.job_id], settings=s)
    third = await enqueue(redis, "gather", {}, queue=c, after=[second.job_id], settings=s)

    done = await final_records(redis, [fan_in.job_id, third.job_id], timeout_s=60)
    counts = await runs(redis)
    report(
        "cluster dependencies",
        slots=[slot_of(keys.queue(q).due) for q in (a, b, c)],
        fan_in_runs=counts["fan-in"],
    )
    assert len({slot_of(keys.queue(q).due) for q in (a, b, c)}) == 3
    assert done[fan_in.job_id].status is JobStatus.complete, done[fan_in.job_id].error
    assert done[fan_in.job_id].result["parents"] == 20
    assert counts["fan-in"] == 1 and done[fan_in.job_id].tries == 1
    chain_end = done[third.job_id]
    assert chain_end.status is JobStatus.complete, chain_end.error
    assert chain_end.result["parent_results"] == {second.job_id: {"n": 2}}
    assert "Traceback" not in processes.log_text("worker")


async def test_a_sweep_sends_across_slots_what_a_dead_worker_owed(
    cluster: ValkeyCluster, processes: ClusterProcesses, redis: RedisClient, settings: Settings
) -> None:
    """The parent and its children on different primaries: the workers' sweeps (server TIME
    from some node, link.lua on the parent's slot, release.lua on the children's) release
    each child once."""
    a, b, _ = await _queues_on_three_primaries(cluster)
    await sweep_sends_once_the_releases_a_dead_worker_owed(
        processes,
        redis,
        settings,
        parent_queue=a,
        child_queue=b,
        children=10,
        release_within_s=30,
    )
