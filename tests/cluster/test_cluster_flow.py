"""A concurrency limit on a real 3-primary Valkey Cluster, with two worker processes: the
gate's keys live in the queue's slot, so the limit is as global there as on one server."""

import pytest

from jobs.enqueue.submit import enqueue_many
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.cluster import ClusterProcesses, ValkeyCluster, slot_of
from tests.support.flow_records import count, most_at_once, spans
from tests.support.report import report
from tests.support.waiting import eventually

pytestmark = pytest.mark.cluster

FLOW_ENV = {"JOB_MODULES": "tests.support.jobs.flow_jobs", "WORKER_CONCURRENCY": "10"}


async def test_a_concurrency_limit_holds_on_a_cluster_with_two_workers(
    cluster: ValkeyCluster, processes: ClusterProcesses, redis: RedisClient, settings: Settings
) -> None:
    for _ in range(2):
        await processes.worker(**FLOW_ENV)
    jobs = 30
    payloads = [{"label": str(i), "hold_s": 0.1} for i in range(jobs)]
    enqueued = await enqueue_many(redis, "three_at_a_time", payloads, settings=settings)
    assert all(e.outcome == "created" for e in enqueued)

    async def all_ran() -> bool:
        return await count(redis) >= jobs

    await eventually(all_ran, timeout_s=60, interval_s=0.05)
    ran = await spans(redis)
    queue = keys.queue(enqueued[0].queue)
    # The spans are by the nodes' TIME: every node runs on this one machine's clock.
    peak = most_at_once(ran)
    report(
        "cluster concurrency=3",
        jobs=len(ran),
        most_at_once=peak,
        slot=slot_of(queue.prefix + "flow"),
    )
    assert sorted(int(s.label) for s in ran) == list(range(jobs))
    assert peak == 3
    assert "Traceback" not in processes.log_text("worker")
