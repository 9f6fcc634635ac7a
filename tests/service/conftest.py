"""Fixtures for tests that need the real processes: uvicorn serving `service.main:app` and a
worker (`python -m jobs`), both subprocesses against the test Redis."""

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import redis as sync_redis

from scripts.embedded_redis import free_port
from tests.support.processes import ROOT, Stack, stop_all, wait_ready


@pytest.fixture(scope="module")
def live_stack(redis_url: str) -> Iterator[Stack]:
    """A web process (with an API key and a read-only one) and a worker, on a flushed
    database."""
    yield from start_stack(redis_url)


def start_stack(redis_url: str, **more_env: str) -> Iterator[Stack]:
    """`live_stack`'s processes, with `more_env` in their environment (a module's own stack)."""
    sync_redis.Redis.from_url(redis_url).flushdb()
    port, key, read_key = free_port(), "dashboard-test-key", "dashboard-look-only-key"
    env = {
        **os.environ.copy(),
        "REDIS_URL": redis_url,
        "JOB_MODULES": "tests.support.jobs.sample_jobs,tests.support.jobs.flow_jobs",
        "API_KEYS": key,
        "API_KEYS_READ": read_key,
        "EXAMPLES": "true",  # the form enqueues ping; the schedules list shows heartbeat_report
        "HEARTBEAT_S": "1",
        "SHUTDOWN_GRACE_S": "1",
        **more_env,
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

    try:
        asyncio.run(wait_ready(url))
        yield Stack(url=url, api_key=key, read_key=read_key)
    finally:
        stop_all(processes)
