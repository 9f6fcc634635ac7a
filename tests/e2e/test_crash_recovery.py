"""kill -9 of a worker mid-job: another worker runs the job after the lease; one result."""

import asyncio
import os
import signal

import pytest

from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_job
from settings import Settings
from tests.support.jobs.probe_jobs import runs_key
from tests.support.processes import Processes, exit_code
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
MAX = {"wait_for_gate": 3}


async def test_job_of_a_killed_worker_is_finished_by_another_after_the_lease(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    workers = [await processes.worker(LEASE_S="2"), await processes.worker(LEASE_S="2")]
    finished_events: list[str] = []
    pubsub = redis.pubsub()
    await pubsub.subscribe(keys.EVENTS)

    async def collect() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message" and message["data"].startswith(b"finished "):
                finished_events.extend(message["data"].decode().split()[1:])

    collector = asyncio.create_task(collect())
    try:
        gate = {"gate": "test:gate:crash"}
        enqueued = await enqueue(redis, "wait_for_gate", gate, settings=settings)
        job_id = enqueued.job_id

        async def running() -> bool:
            # Mid-job: claimed (the lease names the worker) and its body has begun.
            view = await load_job(redis, job_id, MAX)
            started = await redis.get(runs_key(job_id)) == b"1"
            return view is not None and view.status is JobStatus.in_progress and started

        await eventually(running)
        view = await load_job(redis, job_id, MAX)
        assert view is not None
        victim = next(w for w in workers if w.worker_id == view.worker)
        survivor = next(w for w in workers if w is not victim)
        os.kill(victim.pid, signal.SIGKILL)
        assert await exit_code(victim.process) == -signal.SIGKILL
        await redis.set("test:gate:crash", "1")

        async def complete() -> bool:
            view = await load_job(redis, job_id, MAX)
            return view is not None and view.status is JobStatus.complete

        await eventually(complete, timeout_s=12)
        done = await load_job(redis, job_id, MAX)
        assert done is not None
        assert done.tries == 2 and done.result == {"tries": 2, "worker": survivor.worker_id}
        assert await redis.get(runs_key(job_id)) == b"2"  # ran twice, not more

        async def settled() -> bool:
            return job_id in finished_events

        await eventually(settled)
    finally:
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)
        await pubsub.aclose()  # type: ignore[no-untyped-call]
    # The survivor is still healthy and the result was written once.
    assert finished_events.count(job_id) == 1
    assert survivor.process.poll() is None
    assert await redis.zscore(keys.of_job(job_id).failed, job_id) is None
    assert (
        await redis.exists(keys.of_job(job_id).lease(job_id), keys.of_job(job_id).job(job_id)) == 0
    )
