"""Stock ARQ's health check (`jobs.worker.arq_check`): `arq --check jobs.worker.WorkerSettings`
passes while one of our workers beats on the queue, and fails when none does."""

import asyncio
import os
import sys

from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.processes import ROOT
from tests.support.workers import worker_in_background


async def arq_check(settings: Settings) -> tuple[int, str]:
    """The stock CLI in a process of its own, as an orchestrator's probe would run it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "arq",
        "--check",
        "jobs.worker.WorkerSettings",
        cwd=ROOT,
        env={**os.environ, "REDIS_URL": settings.redis_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def test_arq_check_passes_only_while_a_worker_beats(
    redis: RedisClient, settings: Settings
) -> None:
    code, output = await arq_check(settings)
    assert code == 1, output  # no worker: no sentinel
    async with worker_in_background(settings, redis) as worker:
        code, output = await arq_check(settings)
    assert code == 0, output
    assert worker.worker_id in output  # the sentinel our heartbeat wrote
