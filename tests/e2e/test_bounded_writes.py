"""The dependency attacks of issue 23, replayed against the real web and worker processes:
each is refused (413 `too_many_edges`, nothing written) or now costs a bounded amount of
Redis memory, with TTLs on every key it writes, a small answer, and a sweep that reaches the
waiting jobs of a queue no worker serves. Memory is the server's own figure (`INFO memory`
used_memory) before and after."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from tests.support.processes import Processes
from tests.support.report import report
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

WAIT_S = 3600
ENV = {"DEPENDENCY_WAIT_S": str(WAIT_S), "CRON_ENABLED": "false", "HOUSEKEEPING": "false"}
YEAR_S = 365 * 24 * 3600
MIB = 1024 * 1024


@pytest.fixture
async def http(processes: Processes) -> AsyncIterator[httpx.AsyncClient]:
    """The web process alone: nothing serves the attacked queues."""
    url = await processes.web(**ENV)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        yield client


async def used_memory(redis: RedisClient) -> int:
    return int((await redis.info("memory"))["used_memory"])


async def parents_deferred_a_year(http: httpx.AsyncClient, count: int) -> list[str]:
    answer = await http.post(
        "/jobs/ping/bulk", params={"queue": "parq", "defer_by": YEAR_S}, json=[{}] * count
    )
    assert answer.status_code == 202, answer.text
    ids: list[str] = answer.json()["ids"]
    return ids


async def assert_ttls(redis: RedisClient, *keys_: str, at_most_s: int = WAIT_S) -> None:
    for key in keys_:
        ttl = await redis.pttl(key)
        assert 0 < ttl <= at_most_s * 1000, (key, ttl)


async def test_a_bulk_fan_out_behind_200_parents_is_refused_and_writes_nothing(
    http: httpx.AsyncClient, redis: RedisClient
) -> None:
    parents = await parents_deferred_a_year(http, 200)
    keys_before, memory_before = await redis.dbsize(), await used_memory(redis)
    attack = await http.post(
        "/jobs/ping/bulk", params={"queue": "childq", "after": parents}, json=[{}] * 1000
    )
    memory_after = await used_memory(redis)
    assert attack.status_code == 413, attack.text
    error = attack.json()["error"]
    assert error["code"] == "too_many_edges"
    assert error["details"] == {"edges": 200_000, "limit": 10_000}
    assert await redis.dbsize() == keys_before
    assert not await redis.exists(keys.queue("parq").children(parents[0]))
    report("bulk attack", added_bytes=memory_after - memory_before, answer=len(attack.content))
    assert memory_after - memory_before < MIB


async def test_the_largest_bulk_fan_out_allowed_is_bounded_expires_and_answers_ids(
    http: httpx.AsyncClient, redis: RedisClient
) -> None:
    parents = await parents_deferred_a_year(http, 10)
    memory_before = await used_memory(redis)
    answer = await http.post(
        "/jobs/ping/bulk", params={"queue": "childq", "after": parents}, json=[{}] * 1000
    )
    memory_after = await used_memory(redis)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["count"] == 1000 and body["jobs"] is None and len(body["ids"]) == 1000
    added = memory_after - memory_before
    report("bulk at the cap (10,000 edges)", added_bytes=added, answer_bytes=len(answer.content))
    # Was 35 MiB and a 6.4 MB answer for 200,000 edges; 10,000 are the most one request makes.
    assert added < 8 * MIB and len(answer.content) < 100_000
    child = body["ids"][0]
    c, p = keys.of_job(child), keys.queue("parq")
    await assert_ttls(
        redis,
        c.job(child),
        c.deps(child),
        c.state(child),
        c.waiting,
        p.children(parents[0]),
        p.parents,
    )
    one = await http.get(body["job_url"].replace("{id}", child))
    assert one.status_code == 200 and one.json()["status"] == "waiting"


def dense_workflow(nodes: int, fan_in: int) -> dict[str, Any]:
    """`nodes` nodes on a queue nobody serves, each after up to `fan_in` nodes before it."""
    return {
        "nodes": {
            f"n{i}": {
                "job": "ping",
                "queue": "wfq",
                "after": [f"n{j}" for j in range(max(0, i - fan_in), i)],
            }
            for i in range(nodes)
        }
    }


async def test_a_workflow_of_117k_edges_is_refused_and_writes_nothing(
    http: httpx.AsyncClient, redis: RedisClient
) -> None:
    body = dense_workflow(1000, 125)
    edges = sum(len(n["after"]) for n in body["nodes"].values())
    assert edges > 100_000 and len(json.dumps(body)) < 1_000_000
    keys_before, memory_before = await redis.dbsize(), await used_memory(redis)
    attack = await http.post("/workflows", json=body)
    memory_after = await used_memory(redis)
    assert attack.status_code == 413, attack.text
    assert attack.json()["error"]["code"] == "too_many_edges"
    assert attack.json()["error"]["details"] == {"edges": edges, "limit": 10_000}
    assert await redis.dbsize() == keys_before
    report("workflow attack", edges=edges, added_bytes=memory_after - memory_before)
    assert memory_after - memory_before < MIB


async def test_a_large_workflow_is_bounded_expires_and_its_view_is_compact(
    http: httpx.AsyncClient, redis: RedisClient
) -> None:
    body = dense_workflow(1000, 9)  # 8,955 edges
    memory_before = await used_memory(redis)
    created = await http.post("/workflows", json=body)
    memory_after = await used_memory(redis)
    assert created.status_code == 202, created.text
    view = await http.get(created.headers["location"])
    assert view.status_code == 200
    shown = view.json()
    assert shown["compact"] is True and shown["edges"] == 8955
    assert len(shown["nodes"]) == 1000
    node = shown["nodes"]["n500"]
    assert node["job"] is None and node["after"] is None and node["status"] == "waiting"
    assert shown["nodes"]["n0"]["status"] == "queued"
    added = memory_after - memory_before
    report("workflow of 1,000 nodes", added_bytes=added, view_bytes=len(view.content))
    # Was 26 MiB and 4.9 MB on every GET for 121,485 edges.
    assert added < 8 * MIB and len(view.content) < 150_000
    job = (await http.get(shown["job_url"].replace("{id}", node["job_id"]))).json()
    assert job["status"] == "waiting" and len(job["after"]) == 9
    q = keys.queue("wfq")
    first = shown["nodes"]["n0"]["job_id"]
    await assert_ttls(
        redis, q.deps(node["job_id"]), q.state(node["job_id"]), q.children(first), q.waiting
    )
    record = q.workflow(shown["id"])
    await assert_ttls(redis, record, at_most_s=WAIT_S + 7 * 24 * 3600)


async def test_a_queue_nobody_serves_is_swept(
    processes: Processes, http: httpx.AsyncClient, redis: RedisClient
) -> None:
    """A child on `lonely` (no worker serves it) waits for a parent that is gone: a worker
    serving only `elsewhere` sweeps `lonely` too (the index), and releases the child as its
    parent's rule says (a missing parent: not completed)."""
    parent = await http.post("/jobs/ping", params={"queue": "parq", "defer_by": YEAR_S})
    parent_id = parent.json()["id"]
    child = await http.post("/jobs/ping", params={"queue": "lonely", "after": parent_id})
    assert child.status_code == 202 and child.json()["status"] == "waiting"
    child_id = child.json()["id"]
    assert await redis.zscore(keys.WAITING_QUEUES, "lonely") is not None
    # The parent is lost (as its data expiring would): nothing will ever settle it.
    await redis.delete(keys.of_job(parent_id).job(parent_id))
    await processes.worker(WORKER_QUEUES="elsewhere", DEPENDENCY_SWEEP_S="1", **ENV)

    async def released() -> bool:
        view = (await http.get(f"/jobs/{child_id}")).json()
        return bool(view["status"] == "queued")

    await eventually(released, timeout_s=30)
    assert await redis.zscore(keys.queue("lonely").waiting, child_id) is None
