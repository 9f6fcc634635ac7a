"""Batches with two real worker processes finishing the last members at the same time."""

from jobs.graph.batches import create_batch
from jobs.graph.workflows import task
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobRecord, load_job
from settings import Settings
from tests.support.jobs.workflow_jobs import RUNS
from tests.support.processes import Processes
from tests.support.waiting import eventually

WORKER_ENV = {"JOB_MODULES": "tests.support.jobs.workflow_jobs", "WORKER_CONCURRENCY": "20"}


async def final(redis: RedisClient, job_id: str, timeout_s: float = 60) -> JobRecord:
    async def is_final() -> bool:
        found = await load_job(redis, job_id, {})
        return found is not None and found.status.is_final

    await eventually(is_final, timeout_s=timeout_s, interval_s=0.05)
    found = await load_job(redis, job_id, {})
    assert found is not None
    return found


async def test_on_success_runs_exactly_once_with_two_workers(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    workers = [await processes.worker(**WORKER_ENV) for _ in range(2)]
    batches = [
        await create_batch(
            redis,
            settings,
            [task("numbered", {"n": i}) for i in range(100)],
            on_success=task("batch_callback", {}),
            on_complete=task("batch_callback", {}),
        )
        for _ in range(5)
    ]
    for created in batches:
        for callback_id in created.callbacks.values():
            done = await final(redis, callback_id)
            assert done.status.value == "complete", done.error
            assert done.result["batch"] == {
                "id": created.id,
                "total": 100,
                "complete": 100,
                "failed": 0,
                "aborted": 0,
            }
            assert int(await redis.get(RUNS + callback_id) or 0) == 1
            assert done.tries == 1
    # Both workers took members: the last ones of a batch could finish on either.
    ran_on = {
        record.worker
        for created in batches
        for record in [await load_job(redis, job_id, {}) for job_id in created.jobs]
        if record is not None
    }
    assert len(ran_on) == 2, ran_on
    assert all(w.process.poll() is None for w in workers)
