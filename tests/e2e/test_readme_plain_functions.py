"""The README's "Plain functions" section, run as written: its job module loaded by a real
worker and web process, its curl command sent as it stands, its email received by a real SMTP
server, its CPU-bound job run in a child process."""

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from tests.support.jobs_api import JobsApi
from tests.support.processes import Processes
from tests.support.readme import code_blocks
from tests.support.smtp_inbox import smtp_inbox
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

SECTION = "Plain functions, blocking code, CPU-bound work"


async def test_the_readme_plain_functions_run_as_written(
    processes: Processes, tmp_path: Path
) -> None:
    (module,) = code_blocks(SECTION, "python")
    (curl,) = code_blocks(SECTION, "bash")
    (tmp_path / "readme_plain_jobs.py").write_text(module)
    with smtp_inbox() as (inbox, port):
        env = {
            "JOB_MODULES": "readme_plain_jobs",
            "PYTHONPATH": str(tmp_path),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
        }
        url = await processes.web(**env)
        worker = await processes.worker(**env)
        command = curl.replace("localhost:8000", url.removeprefix("http://"))
        sent = await asyncio.to_thread(
            subprocess.run, ["bash", "-c", command], capture_output=True, text=True, check=True
        )
        async with JobsApi(url) as api:
            job_id = json.loads(sent.stdout)["id"]

            async def complete(job: str) -> bool:
                assert worker.process.poll() is None
                return bool((await api.view(job))["status"] == "complete")

            await eventually(lambda: complete(job_id), timeout_s=20)
            assert len(inbox.messages) == 1
            assert b"Your export is ready" in inbox.messages[0]
            assert b"To: ann@example.com" in inbox.messages[0]

            response = await api.client.post("/jobs/sum_of_squares", json={"n": 3_000_000})
            assert response.status_code == 202, response.text
            squares = response.json()["id"]
            await eventually(lambda: complete(squares), timeout_s=60)
            assert (await api.view(squares))["result"] == sum(i * i for i in range(3_000_000))
            refused = await api.client.post("/jobs/sum_of_squares", json={"n": 0})
            assert refused.status_code == 422
