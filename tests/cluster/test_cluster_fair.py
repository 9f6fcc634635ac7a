"""Fair shares on a real 3-primary Valkey Cluster with a real worker process: every lane and
ring of a queue is in the queue's slot (a script touching a key of another slot is refused
there), and tenants' jobs take turns as on one server."""

import pytest

from jobs.enqueue.abort import abort
from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.flow.fair_shares import set_weight
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.cluster import ClusterProcesses, ValkeyCluster, slot_of
from tests.support.waiting import eventually
from tests.support.workers import starts

pytestmark = pytest.mark.cluster

QUEUE = "a"
ENV = {
    "JOB_MODULES": "tests.support.jobs.sample_jobs",
    "WORKER_QUEUES": QUEUE,
    "WORKER_CONCURRENCY": "1",
    "CLAIM_BATCH": "1",
}


async def test_tenants_take_turns_on_a_cluster_with_their_keys_in_the_queue_slot(
    cluster: ValkeyCluster, processes: ClusterProcesses, redis: RedisClient, settings: Settings
) -> None:
    q = keys.queue(QUEUE)
    assert slot_of(q.lane(0, "B")) == slot_of(q.fair_keys(0)) == slot_of(q.due)
    await set_weight(redis, QUEUE, "B", 2)
    for tenant, count in (("A", 30), ("B", 10)):
        await enqueue_many(
            redis,
            "record_tenant",
            [{"label": f"{tenant}{n}", "tenant": tenant} for n in range(count)],
            queue=QUEUE,
            settings=settings,
        )
    dropped = await enqueue(
        redis, "record_tenant", {"label": "gone", "tenant": "C"}, queue=QUEUE, settings=settings
    )
    assert await abort(redis, dropped.job_id, settings) == "aborted"
    await processes.worker(**ENV)

    async def all_ran() -> bool:
        return len(await starts(redis)) >= 40

    await eventually(all_ran, timeout_s=60)
    order = await starts(redis)
    assert "gone" not in order
    # Weight 2 for B: A, B, B, A, B, B, ... until B's ten are done.
    assert order[:15] == [x for n in range(5) for x in (f"A{n}", f"B{2 * n}", f"B{2 * n + 1}")]
    assert order[15:] == [f"A{n}" for n in range(5, 30)]
    assert "Traceback" not in processes.log_text("worker")
