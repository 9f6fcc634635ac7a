"""The blocked-loop watchdog of a real worker process names the job that blocks its loop.

A job that calls `time.sleep` in an `async def` holds the loop for 1.5 s (under `LEASE_S=2`,
so it keeps its lease and completes): the watchdog (threshold 0.5 s) logs one warning naming
the job, its id and try, with the stack down to the blocking function, then the stall's end;
`/metrics` counts the stall.
"""

import pytest

import tests.support.jobs.stall_jobs  # noqa: F401  (declares `block_loop`)
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.jobs_api import JobsApi
from tests.support.load import enqueue_each
from tests.support.metrics import metric_samples
from tests.support.processes import Processes
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

STALL_ENV = {"JOB_MODULES": "tests.support.jobs.stall_jobs", "CRON_ENABLED": "false"}
BLOCKED = "event loop blocked"
RAN_AGAIN = "event loop ran again"


async def test_the_watchdog_names_the_job_blocking_the_loop_with_its_stack_and_counts_it(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    url = await processes.web(**STALL_ENV)
    worker = await processes.worker(**STALL_ENV)
    [job_id] = await enqueue_each(redis, "block_loop", [{"block_s": 1.5}], settings)
    log = processes.log_of(worker)

    async def stall_over() -> bool:
        return RAN_AGAIN in log.read_text()

    await eventually(stall_over, timeout_s=15)
    text = log.read_text()
    [warning] = [block for block in text.split("\n20") if BLOCKED in block]
    assert f"job block_loop (id {job_id}, try 1)" in warning
    # The main thread's stack, down to the blocking call inside the job.
    assert "in block_loop" in warning and "in hold_the_loop" in warning, warning
    assert "stall_jobs.py" in warning and "time.sleep(seconds)" in warning, warning
    assert text.count(BLOCKED) == 1 and text.count(RAN_AGAIN) == 1, text

    async with JobsApi(url) as api:

        async def complete() -> bool:
            view = await api.view(job_id)
            return bool(view["status"] == "complete")

        await eventually(complete)
        assert (await api.view(job_id))["tries"] == 1
        seen: dict[str, float] = {}

        async def counted() -> bool:
            samples = await metric_samples(api.client)
            seen["stalls"] = samples[("jobsvc_worker_loop_stalls_total", frozenset())]
            seen["seconds"] = samples[("jobsvc_worker_loop_stalled_seconds_total", frozenset())]
            return seen["stalls"] >= 1 and seen["seconds"] > 0

        await eventually(counted, timeout_s=10, interval_s=0.1)
        assert seen["stalls"] == 1 and seen["seconds"] > 0, seen
