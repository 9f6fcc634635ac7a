"""Tools for the dependency proofs: settings and worker env with a short sweep interval,
JobViews read until final, and how many tries each `counted` job began."""

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobRecord, load_job
from settings import Settings
from tests.support.jobs.dependency_jobs import RUNS
from tests.support.processes import Processes, WorkerProcess
from tests.support.waiting import eventually

SWEEP_S = 1.0
"""DEPENDENCY_SWEEP_S of these tests (10 s by default): a release a crash lost is sent by a
sweep within about this long (1.5 x: workers sweep every half of it)."""
MODULES = "tests.support.jobs.workflow_jobs,tests.support.jobs.dependency_jobs"


def dependency_settings(settings: Settings) -> Settings:
    """The test's settings with this sweep interval (enqueue.lua schedules the first look by
    it) and the dependency test jobs in the catalog."""
    modules = [
        *settings.job_modules,
        "tests.support.jobs.workflow_jobs",
        "tests.support.jobs.dependency_jobs",
    ]
    return settings.model_copy(
        update={"dependency_sweep_s": SWEEP_S, "job_modules": list(dict.fromkeys(modules))}
    )


async def dependency_worker(processes: Processes, queues: str, **env: str) -> WorkerProcess:
    """`python -m jobs` serving `queues`, with the dependency test jobs and a short sweep."""
    return await processes.worker(
        JOB_MODULES=MODULES, WORKER_QUEUES=queues, DEPENDENCY_SWEEP_S=str(SWEEP_S), **env
    )


async def final_records(
    redis: RedisClient, job_ids: Iterable[str], timeout_s: float = 30
) -> dict[str, JobRecord]:
    """The JobViews of `job_ids`, once every one is final."""
    ids = list(job_ids)
    found: dict[str, JobRecord] = {}

    async def all_final() -> bool:
        for job_id in ids:
            if job_id in found:
                continue
            record = await load_job(redis, job_id, {})
            if record is None or not record.status.is_final:
                return False
            found[job_id] = record
        return True

    await eventually(all_final, timeout_s=timeout_s, interval_s=0.05)
    return found


async def runs(redis: RedisClient) -> Counter[str]:
    """Label -> tries of `counted` that began."""
    counted = await redis.hgetall(RUNS)  # type: ignore[misc]
    return Counter({k.decode(): int(v) for k, v in counted.items()})


def ms(at: datetime | None) -> int:
    assert at is not None
    return int(at.timestamp() * 1000)
