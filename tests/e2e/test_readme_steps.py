"""The README's "Durable steps" example, run as written by a real worker and web process."""

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.jobs_api import JobsApi
from tests.support.processes import Processes
from tests.support.readme import code_blocks
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_the_readme_checkout_job_runs_its_steps(processes: Processes, tmp_path: Path) -> None:
    (module,) = code_blocks("Durable steps", "python")
    (tmp_path / "readme_steps.py").write_text(module)
    env = {"JOB_MODULES": "readme_steps", "PYTHONPATH": str(tmp_path)}
    url = await processes.web(**env)
    await processes.worker(**env)
    async with JobsApi(url) as api:
        created = await api.client.post("/jobs/checkout", json={"order_id": "o-1", "cents": 990})
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]

        async def final() -> bool:
            return bool((await api.view(job_id))["status"] in ("complete", "failed"))

        await eventually(final, timeout_s=30)
        view = await api.view(job_id)
    assert (view["status"], view["result"], view["steps"]) == (
        "complete",
        "ch_o-1",
        ["charge", "receipt"],
    )


async def test_the_readme_signal_curl_wakes_a_parked_job(
    processes: Processes, tmp_path: Path
) -> None:
    (curl,) = code_blocks("Durable steps", "bash")
    env = {"JOB_MODULES": "tests.support.jobs.step_jobs"}
    url = await processes.web(**env)
    await processes.worker(**env)
    async with JobsApi(url) as api:
        created = await api.client.post("/jobs/wait_for_approval", json={})
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]

        async def parked() -> bool:
            return bool((await api.view(job_id))["waiting_for_signal"] == "approved")

        await eventually(parked, timeout_s=30)
        command = curl.replace("localhost:8000", url.removeprefix("http://"))
        sent = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-c", command],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "ID": job_id},
        )
        woken = json.loads(sent.stdout)  # a worker may have claimed it already
        assert woken["status"] in ("queued", "in_progress", "complete"), woken

        async def complete() -> bool:
            return bool((await api.view(job_id))["status"] == "complete")

        await eventually(complete, timeout_s=30)
        assert (await api.view(job_id))["result"]["decision"] == {"by": "ann"}
