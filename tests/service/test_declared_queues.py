"""Which queues exist (`jobs.declare.queues`), the web's caches and the registry, bounded.

The attacks themselves run against real processes in tests/e2e/test_declared_queues_e2e.py;
here the same code runs in-process, where the web's cache can be measured directly.
"""

import uuid

import httpx
import pytest

from jobs import UnknownQueue
from jobs.client import JobClient
from jobs.declare.queues import declared_queues, worker_queue_names
from jobs.declare.registry import load_catalog
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.queues import queue_names
from jobs.settings import Settings
from jobs.tasks.ping import Ping, ping
from jobs.worker.queue_order import MAX_REGISTERED
from service.errors import JobNotFound
from service.views import load_view


def test_a_queue_is_declared_by_a_job_the_settings_or_worker_queues() -> None:
    settings = Settings(
        queue_name="main", queues=["critical", "reports"], worker_queues="low:1,arq:queue:3,mid"
    )
    known = declared_queues(settings, ["from-catalog"])
    assert {"arq:queue", "main", "critical", "reports", "low", "mid", "from-catalog"} <= known
    assert "emails" in declared_queues(settings)  # tests.support.jobs.sample_jobs declares it
    assert worker_queue_names("*") == set()  # `*` serves the registry; it declares nothing
    assert "attack" not in known


def test_queues_setting_is_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUES", " critical, reports ,")
    assert Settings().queues == ["critical", "reports"]


async def test_the_python_client_refuses_an_undeclared_queue_and_writes_nothing(
    redis: RedisClient, settings: Settings
) -> None:
    jobs = JobClient(redis, settings)
    with pytest.raises(UnknownQueue) as refused:
        await jobs.enqueue(ping, Ping(), queue="made-up")
    assert "QUEUES" in str(refused.value) and "other" in refused.value.known
    assert await redis.dbsize() == 0
    handle = await jobs.enqueue(ping, Ping(), queue="other")  # declared (QUEUES): accepted
    assert handle.id.endswith("@other")


async def test_an_undeclared_queue_is_422_unknown_queue_on_every_enqueue_route(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    one = await client.post("/jobs/ping", params={"queue": "made-up"}, json={})
    bulk = await client.post("/jobs/ping/bulk", params={"queue": "made-up"}, json=[{}])
    node = {"job": "ping", "input": {}, "queue": "made-up"}
    flow = await client.post("/workflows", json={"nodes": {"a": node}})
    batch = await client.post("/batches", json={"jobs": [node]})
    for answer in (one, bulk, flow, batch):
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "unknown_queue", error
        assert "QUEUES" in error["message"]
    assert one.json()["error"]["details"]["queue"] == "made-up"
    assert "other" in one.json()["error"]["details"]["known"]
    assert await redis.dbsize() == 0


async def test_ten_thousand_ids_on_made_up_queues_leave_the_web_cache_as_it_was(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    catalog = load_catalog(settings)  # the web's (`create_app` loads the same)
    assert (await client.get("/jobs/x@made-up-1")).status_code == 404
    cached = keys.queue.cache_info().currsize
    for _ in range(10_000):  # what every job route starts with (`load_view`)
        with pytest.raises(JobNotFound):
            await load_view(redis, catalog, settings, f"x@{uuid.uuid4().hex[:12]}")
    assert keys.queue.cache_info().currsize == cached
    assert await redis.dbsize() == 0


def test_the_queue_key_cache_is_bounded_whatever_it_is_asked() -> None:
    for n in range(keys.QUEUE_CACHE_SIZE + 500):
        keys.queue(f"many-{n}")
    assert keys.queue.cache_info().currsize <= keys.QUEUE_CACHE_SIZE


async def test_a_registry_an_older_release_filled_is_read_up_to_its_cap(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    """An older release let any enqueue add a name (the issue's 3,002): every read of the
    registry (`/queues`, `/metrics`, `/ready`, a `*` worker) stops at `MAX_REGISTERED`."""
    await redis.sadd(keys.QUEUES, *(f"old-{n}" for n in range(3000)))  # type: ignore[misc]
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(0, 3000, 10):  # some of them hold jobs, as they did
            pipe.zadd(f"jobsvc:{{old-{n}}}:failed", {"x": 1})
        await pipe.execute()
    declared = declared_queues(settings)
    names = await queue_names(redis, declared, [])
    assert declared <= set(names)
    assert len(names) <= len(declared) + MAX_REGISTERED
    listed = (await client.get("/queues")).json()
    assert len(listed) <= MAX_REGISTERED + 1
    assert (await client.get("/metrics")).status_code == 200
    # An older release's queue is still known: its jobs can be paused (404 for a made-up one).
    assert (await client.post("/queues/old-7/pause")).status_code == 204
    assert (await client.post("/queues/old-3000/pause")).status_code == 404
