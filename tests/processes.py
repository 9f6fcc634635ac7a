"""Starting and stopping the real processes that end-to-end tests run."""

import os
import signal
import subprocess

import httpx

from tests.conftest import eventually


def stop_all(processes: "list[subprocess.Popen[bytes]]", grace_s: float = 15) -> None:
    """SIGTERM each process group (as a platform would), SIGKILL what outlives the grace."""
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def wait_ready(url: str, timeout_s: float = 30) -> None:
    """Until `GET /ready` answers 200: Redis reachable and a worker heartbeat fresh."""

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient(base_url=url) as client:
                return (await client.get("/ready")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(ready, timeout_s=timeout_s, interval_s=0.1)
