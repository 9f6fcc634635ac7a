"""Every enqueue leaves one structured log line that names the job and its id."""

import json
import logging

import httpx
import pytest

from jobs.logs import JsonFormatter
from tests.support.workers import RunWorker


async def test_enqueue_logs_the_job_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="service"):
        created = (await client.post("/jobs/ping", json={"message": "logged"})).json()
    lines = [r for r in caplog.records if r.name == "service" and r.getMessage() == "job enqueued"]
    assert len(lines) == 1
    line = json.loads(JsonFormatter().format(lines[0]))
    assert line["job_id"] == created["id"] and line["job"] == "ping"
    assert line["outcome"] == "created"


async def test_retry_logs_the_new_job_and_the_old_one(
    client: httpx.AsyncClient, run_worker: RunWorker, caplog: pytest.LogCaptureFixture
) -> None:
    failed = (await client.post("/jobs/always_permanent", json={})).json()
    await run_worker()
    with caplog.at_level(logging.INFO, logger="service"):
        retried = (await client.post(f"/jobs/{failed['id']}/retry")).json()
    (line,) = [r for r in caplog.records if r.getMessage() == "job enqueued"]
    assert vars(line)["job_id"] == retried["id"]
    assert vars(line)["retry_of"] == failed["id"]
