"""The eviction guard: an evicting `maxmemory-policy` (jobs carry TTLs, so the server may drop
them) is logged loudly when the web starts and reported by `/ready`, which stays 200."""

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from jobs.layout.connection import RedisClient
from jobs.layout.eviction import eviction_policy, policy_warning
from jobs.worker.loop import Worker
from service.main import create_app
from settings import Settings
from tests.support.waiting import eventually


@pytest.fixture
async def evicting(redis: RedisClient) -> AsyncIterator[None]:
    await redis.config_set("maxmemory-policy", "allkeys-lru")
    try:
        yield
    finally:
        await redis.config_set("maxmemory-policy", "noeviction")


async def ready_when_a_worker_beats(client: httpx.AsyncClient) -> httpx.Response:
    answers: list[httpx.Response] = []

    async def ready() -> bool:
        answers.append(await client.get("/ready"))
        return answers[-1].status_code == 200

    await eventually(ready, timeout_s=10)
    return answers[-1]


async def test_evicting_policy_is_reported_by_ready_without_making_it_unready(
    evicting: None, client: httpx.AsyncClient, background_worker: Worker
) -> None:
    body = (await ready_when_a_worker_beats(client)).json()
    assert body["status"] == "ready"
    assert body["eviction_policy"] == "allkeys-lru"
    assert len(body["warnings"]) == 1
    assert "allkeys-lru" in body["warnings"][0] and "noeviction" in body["warnings"][0]


async def test_noeviction_is_reported_without_a_warning(
    client: httpx.AsyncClient, background_worker: Worker
) -> None:
    body = (await ready_when_a_worker_beats(client)).json()
    assert body["eviction_policy"] == "noeviction"
    assert body["warnings"] == []


async def test_web_start_logs_a_warning_for_an_evicting_policy(
    evicting: None, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)
    with caplog.at_level(logging.WARNING, logger="jobs"):
        async with app.router.lifespan_context(app):
            pass
    warnings = [
        r.getMessage() for r in caplog.records if r.name == "jobs" and r.levelno == logging.WARNING
    ]
    assert any("allkeys-lru" in message for message in warnings), warnings


async def test_policy_is_read_from_info_and_only_noeviction_is_quiet(
    evicting: None, redis: RedisClient
) -> None:
    assert await eviction_policy(redis) == "allkeys-lru"
    assert policy_warning("noeviction") is None
    for policy in ("allkeys-lru", "volatile-ttl", None):
        assert policy_warning(policy)
