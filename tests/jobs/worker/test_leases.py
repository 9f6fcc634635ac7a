"""Leases: the worker renews the lease of a running job and keeps running it."""

import tests.support.jobs.probe_jobs  # noqa: F401  (declares `wait_for_gate`)
from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_job
from jobs.worker.loop import Worker
from settings import Settings
from tests.support.jobs.probe_jobs import cancelled_key
from tests.support.waiting import eventually

MAX = {"wait_for_gate": 3}


async def test_renewing_the_lease_keeps_the_job_running(
    redis: RedisClient, settings: Settings, background_worker: Worker
) -> None:
    gate = {"gate": "test:gate:lease"}
    enqueued = await enqueue(redis, "wait_for_gate", gate, settings=settings)
    lease_key = keys.of_job(enqueued.job_id).lease(enqueued.job_id)

    async def running() -> bool:
        return enqueued.job_id in background_worker.slots.running and await redis.exists(lease_key)

    await eventually(running)
    held = background_worker.slots.running[enqueued.job_id]
    assert await redis.get(lease_key) == held.token.encode()  # the token the worker renews with
    await redis.pexpire(lease_key, 1000)
    await background_worker._renew_leases()
    assert await redis.pttl(lease_key) > 1000  # renewed to the full lease
    assert held.cancel_reason is None
    await redis.set("test:gate:lease", "1")

    async def complete() -> bool:
        view = await load_job(redis, enqueued.job_id, MAX)
        return view is not None and view.status is JobStatus.complete

    await eventually(complete)
    assert await redis.get(cancelled_key(enqueued.job_id)) is None
    assert background_worker.counts["complete"] == 1
