"""A worker killed (-9) between two durable steps: the next worker replays the first step from
its record and runs only the second."""

import os
import signal

import pytest

from jobs.layout.connection import RedisClient
from tests.support.jobs.step_jobs import effects_key, gate_key
from tests.support.jobs_api import JobsApi
from tests.support.processes import BASE_ENV, Processes, exit_code
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

ENV = {"JOB_MODULES": f"{BASE_ENV['JOB_MODULES']},tests.support.jobs.step_jobs"}


async def _effects(redis: RedisClient, job_id: str) -> list[str]:
    return [e.decode() for e in await redis.lrange(effects_key(job_id), 0, -1)]  # type: ignore[misc]


async def test_kill_9_between_steps_reruns_only_the_step_not_recorded(
    processes: Processes, redis: RedisClient
) -> None:
    url = await processes.web(**ENV)
    first = await processes.worker(**ENV)
    async with JobsApi(url) as api:
        created = await api.client.post("/jobs/charge_then_wait", json={})
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]

        async def charged_and_recorded() -> bool:
            view = await api.view(job_id)
            return bool(view["steps"] == ["charge"] and view["status"] == "in_progress")

        await eventually(charged_and_recorded, timeout_s=30)
        os.kill(first.pid, signal.SIGKILL)
        assert await exit_code(first.process) == -signal.SIGKILL
        second = await processes.worker(**ENV)
        await redis.set(gate_key(job_id), "open")

        async def final() -> bool:
            return bool((await api.view(job_id))["status"] in ("complete", "failed"))

        await eventually(final, timeout_s=60)
        view = await api.view(job_id)
    assert view["status"] == "complete", view
    assert view["result"] == ["charged", "shipped"]
    assert view["steps"] == ["charge", "ship"]
    assert view["tries"] == 2
    # The charge happened once, by the killed worker; the ship once, by the next one.
    assert await _effects(redis, job_id) == [
        f"charge by {first.worker_id}",
        f"ship by {second.worker_id}",
    ]
