"""The README's curl commands, sent as they stand to a real web and worker process: the first
job ("A first job with curl"), the bulk abort by filter ("HTTP API") and a workflow's retry
("Workflows and batches")."""

import asyncio
import json
import subprocess

import pytest

from tests.support.jobs_api import JobsApi
from tests.support.processes import Processes
from tests.support.readme import code_blocks

pytestmark = pytest.mark.e2e


async def _bash(command: str, url: str) -> str:
    command = command.replace("localhost:8000", url.removeprefix("http://"))
    done = await asyncio.to_thread(
        subprocess.run, ["bash", "-c", command], capture_output=True, text=True, check=True
    )
    return done.stdout


async def test_the_first_job_with_curl_runs_as_written(processes: Processes) -> None:
    (tour,) = code_blocks("A first job with curl", "sh")
    enqueue, poll = (line for line in tour.splitlines() if line.startswith("curl "))
    url = await processes.web()
    await processes.worker()

    head, _, body = (await _bash(enqueue, url)).replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 202"), head
    created = json.loads(body)
    headers = dict(line.lower().split(": ", 1) for line in head.splitlines()[1:])
    assert headers["location"] == f"/jobs/{created['id']}".lower()

    view = json.loads(await _bash(poll.replace("<id>", created["id"]), url))
    assert view["status"] == "complete", view
    assert (view["tries"], view["result"]["message"]) == (1, "hello")


async def test_the_bulk_abort_by_filter_runs_as_written(processes: Processes) -> None:
    (dry_run,) = code_blocks("HTTP API", "bash")
    url = await processes.web()
    async with JobsApi(url) as api:
        email = {"to": "ann@example.com", "subject": "hi", "body": "later"}
        for _ in range(3):
            response = await api.client.post("/jobs/send_email?defer_by=3600", json=email)
            assert response.status_code == 202, response.text
        answer = json.loads(await _bash(dry_run, url))
        assert answer == {"count": 3, "skipped": 0, "next_cursor": None}
        listed = await api.client.get("/jobs", params={"name": "send_email"})
        assert {job["status"] for job in listed.json()["jobs"]} == {"deferred"}  # a dry run


def _commands(block: str) -> list[str]:
    """The block's curl commands, each with its continuation lines (comments dropped)."""
    commands: list[str] = []
    for line in block.splitlines():
        if line.startswith("curl "):
            commands.append(line)
        elif commands and line and not line.startswith("#"):
            commands[-1] += "\n" + line
    return commands


async def test_the_workflow_retry_runs_as_written(processes: Processes) -> None:
    (create, abort, retry) = _commands(code_blocks("Workflows and batches", "bash")[1])
    url = await processes.web()
    await processes.worker()
    created = json.loads(await _bash(create, url))
    a = created["nodes"]["a"]["job_id"]
    async with JobsApi(url) as api:
        await api.wait_status(a, "in_progress")
        await _bash(abort.replace("<a>", a), url)
        failed = await api.wait_workflow(created["id"], "failed")
        assert failed["nodes"]["b"]["job"]["error"]["type"] == "ParentFailed"
        view = json.loads(await _bash(retry.replace("<id>", created["id"]), url))
        assert view["id"] == created["id"] and view["status"] == "running", view
        assert view["nodes"]["a"]["job_id"] != a
        done = await api.wait_workflow(created["id"], "complete")
    assert done["nodes"]["a"]["job"]["result"]["message"] == "again"
