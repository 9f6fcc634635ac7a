"""End to end: the Procfile's real `web` and `worker` processes, driven over HTTP."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.embedded_redis import free_port
from tests.support.processes import stop_all, wait_ready

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))


@pytest.fixture
def stack(redis_url: str) -> Iterator[str]:
    """Start every Procfile process as the platform would; yield the web's base URL."""
    import redis as sync_redis

    sync_redis.Redis.from_url(redis_url).flushdb()
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HEARTBEAT_S": "1",
        "EXAMPLES": "true",  # the job it runs is the example `ping`
    }
    processes = [
        subprocess.Popen(
            ["bash", "-c", f"exec {command.strip()}"], cwd=ROOT, env=env, start_new_session=True
        )
        for command in procfile().values()
    ]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_all(processes)


async def test_procfile_processes_run_a_job_end_to_end(stack: str) -> None:
    await wait_ready(stack)
    async with httpx.AsyncClient(base_url=stack, timeout=10) as client:
        created = await client.post("/jobs/ping", json={"message": "e2e", "fail_times": 1})
        assert created.status_code == 202
        view = (await client.get(created.headers["location"], params={"wait": 10})).json()
        assert view["status"] == "complete", view
        assert view["result"]["message"] == "e2e" and view["tries"] == 2
        assert view["worker"] == view["result"]["worker"]  # the worker process that ran it
        docs = await client.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
