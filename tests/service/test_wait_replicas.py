"""`ENQUEUE_WAIT_REPLICAS` against a server with no replica: `WAIT` answers 0 within its
timeout, so no enqueue is acknowledged: a single enqueue, a bulk one and the API's answer (503
`enqueue_not_replicated`, with the replicas it reached). The job is written all the same (on
the primary): the refusal says "not known durable", not "not written". With 0 (the default)
nothing waits. The acknowledged-survive-a-failover half: tests/e2e/test_failover.py."""

import httpx
import pytest

from jobs.enqueue.replicas import NotReplicated
from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from service.main import create_app
from settings import Settings


@pytest.fixture
def waiting(settings: Settings) -> Settings:
    return settings.model_copy(update={"enqueue_wait_replicas": 1, "enqueue_wait_timeout_ms": 20})


async def test_an_enqueue_no_replica_acknowledged_raises_not_replicated_yet_is_written(
    waiting: Settings, redis: RedisClient
) -> None:
    with pytest.raises(NotReplicated) as raised:
        await enqueue(redis, "ping", {}, settings=waiting)
    assert (raised.value.acknowledged, raised.value.wanted) == (0, 1)
    index = keys.queue(keys.DEFAULT_QUEUE).index
    assert await redis.zcard(index) == 1


async def test_an_idempotent_enqueue_and_a_bulk_one_wait_too(
    waiting: Settings, redis: RedisClient
) -> None:
    with pytest.raises(NotReplicated):
        await enqueue(redis, "ping", {}, idempotency_key="k1", settings=waiting)
    with pytest.raises(NotReplicated):
        await enqueue_many(redis, "ping", [{}, {}, {}], settings=waiting)


async def test_without_the_setting_nothing_waits(settings: Settings, redis: RedisClient) -> None:
    assert settings.enqueue_wait_replicas == 0
    done = await enqueue(redis, "ping", {}, settings=settings)
    assert done.outcome == "created"


async def test_the_api_answers_503_enqueue_not_replicated(
    waiting: Settings, redis: RedisClient
) -> None:
    app = create_app(waiting)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.post("/jobs/ping", json={})
            bulk = await client.post("/jobs/ping/bulk", json=[{}, {}])
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
    error = answer.json()["error"]
    assert error["code"] == "enqueue_not_replicated"
    assert error["details"] == {"replicas": 0, "wanted": 1}
    assert bulk.status_code == 503
    assert bulk.json()["error"]["code"] == "enqueue_not_replicated"
