"""Fixtures for tests that need the real processes: uvicorn serving `service.main:app` and a
worker (`python -m jobs`), both subprocesses against the test Redis."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis as sync_redis

from scripts.embedded_redis import free_port
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    url: str
    api_key: str


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def live_stack(redis_url: str) -> Iterator[Stack]:
    """A web process (with an API key configured) and a worker, on a flushed database."""
    sync_redis.Redis.from_url(redis_url).flushdb()
    port, key = free_port(), "dashboard-test-key"
    env = {
        **os.environ.copy(),
        "REDIS_URL": redis_url,
        "JOB_MODULES": "tests.jobs.sample_jobs",
        "API_KEYS": key,
        "HEARTBEAT_S": "1",
        "SHUTDOWN_GRACE_S": "1",
    }
    commands = [
        [
            sys.executable,
            "-m",
            "uvicorn",
            "service.main:app",
            "--port",
            str(port),
            "--no-access-log",
        ],
        [sys.executable, "-m", "jobs"],
    ]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True) for command in commands
    ]
    url = f"http://127.0.0.1:{port}"

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient(base_url=url) as client:
                return (await client.get("/ready")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        asyncio.run(eventually(ready, timeout_s=30, interval_s=0.1))
        yield Stack(url=url, api_key=key)
    finally:
        _stop(processes)
