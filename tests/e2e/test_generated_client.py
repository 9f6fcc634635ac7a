"""A client generated from `/openapi.json` (openapi-python-client) runs a job end to end, with
short method names and a typed result: what another language's generator would give too."""

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import Processes

pytestmark = pytest.mark.e2e


def generate(spec: bytes, into: Path) -> None:
    (into / "openapi.json").write_bytes(spec)
    generator = Path(sys.executable).parent / "openapi-python-client"
    options = ["--path", "openapi.json", "--meta", "none", "--output-path", "jobsvc_client"]
    subprocess.run(
        [str(generator), "generate", *options],
        cwd=into,
        check=True,
        capture_output=True,
        timeout=120,
    )


async def test_generated_client_enqueues_and_reads_a_typed_result(
    processes: Processes, tmp_path: Path
) -> None:
    url = await processes.web()
    await processes.worker()
    async with httpx.AsyncClient(base_url=url) as http:
        generate((await http.get("/openapi.json")).content, tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        client_module: Any = importlib.import_module("jobsvc_client")
        enqueue_ping: Any = importlib.import_module("jobsvc_client.api.enqueue.enqueue_ping")
        get_job: Any = importlib.import_module("jobsvc_client.api.jobs.get_job")
        models: Any = importlib.import_module("jobsvc_client.models")
        client = client_module.Client(base_url=url)
        created = await enqueue_ping.asyncio(client=client, body=models.Ping(message="generated"))
        assert isinstance(created, models.PingJobView) and created.status == "queued"
        done = await get_job.asyncio(created.id, client=client, wait=10.0)
        assert isinstance(done, models.PingJobView)  # the union resolved on `name`
        assert isinstance(done.result, models.Pong) and done.result.message == "generated"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("jobsvc_client")]:
            del sys.modules[name]
