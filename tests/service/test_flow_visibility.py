"""Flow control is visible over HTTP: `/job-types` and `/docs` show each job's limits;
`/queues`, `/metrics` and `/limits` show the jobs the gates hold back."""

from typing import Any

import httpx

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.metrics import metric_samples
from tests.support.waiting import eventually
from tests.support.workers import worker_in_background

QUEUE = keys.DEFAULT_QUEUE


async def test_job_types_show_each_jobs_limits(client: httpx.AsyncClient) -> None:
    types = {t["name"]: t for t in (await client.get("/job-types")).json()}
    assert types["one_per_customer"]["limits"] == {
        "concurrency": 1,
        "concurrency_key": "customer",
        "rate_limit": None,
        "rate_burst": None,
        "rate_key": None,
        "unique_for_s": None,
        "unique_key": None,
        "debounce_s": None,
        "expires_s": None,
        "fair_key": None,
    }
    assert types["record_tenant"]["limits"]["fair_key"] == "tenant"
    assert types["twenty_a_second"]["limits"]["rate_limit"] == "20/s"
    assert types["twenty_a_second"]["limits"]["rate_burst"] == 1
    assert types["debounced"]["limits"]["debounce_s"] == 0.3
    assert types["debounced"]["limits"]["unique_key"] == "customer"
    assert types["expires_soon"]["limits"]["expires_s"] == 0.2
    assert set(types["ping"]["limits"].values()) == {None}  # no limits


async def test_docs_describe_the_limits_on_each_enqueue_route(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    one = paths["/jobs/one_per_customer"]["post"]["description"]
    assert "at most 1 at once per value of `customer`" in one
    assert "runs on queue `arq:queue` only" in one
    assert (
        "rate limit 20/s (GCRA, burst 1)" in paths["/jobs/twenty_a_second"]["post"]["description"]
    )
    bulk = paths["/jobs/unique_by_customer/bulk"]["post"]["description"]
    assert "unique for 60 s (an enqueue with the same `customer`" in bulk
    assert "Limits" not in paths["/jobs/ping"]["post"].get("description", "")


async def test_held_jobs_show_in_queues_metrics_and_limits(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    async with worker_in_background(settings, redis, worker_concurrency=10):
        for i in range(5):
            body = {"label": str(i), "hold_s": 30}
            assert (await client.post("/jobs/three_at_a_time", json=body)).status_code == 202

        async def two_held() -> bool:
            queues = {q["name"]: q for q in (await client.get("/queues")).json()}
            return bool(queues.get(QUEUE, {}).get("held") == 2)

        await eventually(two_held)
        (gate,) = (await client.get("/limits")).json()
        assert gate["gate"] == "c:three_at_a_time" and gate["kind"] == "concurrency"
        assert (gate["running"], gate["limit"], gate["held"]) == (3, 3, 2)
        assert gate["next_check"] is not None  # the earliest lease end of the full gate
        samples = await metric_samples(client)
        assert samples[("jobsvc_queue_jobs", frozenset({("queue", QUEUE), ("state", "held")}))] == 2
        labels = frozenset({("queue", QUEUE), ("job", "three_at_a_time")})
        assert samples[("jobsvc_flow_slots_in_use", labels)] == 3
        assert samples[("jobsvc_flow_slot_limit", labels)] == 3
        kind = labels | {("kind", "concurrency")}
        assert samples[("jobsvc_flow_held_jobs", kind)] == 2
        assert samples[("jobsvc_flow_gates", kind)] == 1
        # A declared limit with nothing running is exported too (0 of 1).
        idle = frozenset({("queue", QUEUE), ("job", "one_per_customer")})
        assert samples[("jobsvc_flow_slots_in_use", idle)] == 0
        assert samples[("jobsvc_flow_slot_limit", idle)] == 1


async def test_rate_limited_jobs_show_their_next_admission(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    async with worker_in_background(settings, redis):
        bulk = [{"label": str(i)} for i in range(40)]
        assert (await client.post("/jobs/twenty_a_second/bulk", json=bulk)).status_code == 202
        seen: list[dict[str, Any]] = []

        async def held_back() -> bool:
            seen.extend(g for g in (await client.get("/limits")).json() if g["held"])
            return bool(seen)

        await eventually(held_back)
        assert seen[0]["kind"] == "rate_limit" and seen[0]["rate_limit"] == "20/s"
        assert seen[0]["next_admission"] is not None and seen[0]["running"] is None
