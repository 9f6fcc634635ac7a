"""`POST /jobs/{name}/bulk`: inputs validated whole, enqueued in input order, or nothing at all."""

from typing import Any

import httpx
import pytest

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.workers import RunWorker, new_queue


async def test_bulk_enqueues_every_item_in_input_order_and_all_run(
    client: httpx.AsyncClient, redis: RedisClient, run_worker: RunWorker
) -> None:
    items = [{"message": f"item {n}"} for n in range(25)]
    answer = await client.post("/jobs/ping/bulk", json=items)
    assert answer.status_code == 202, answer.text
    jobs = answer.json()["jobs"]
    assert [j["input"]["message"] for j in jobs] == [i["message"] for i in items]
    assert all(j["name"] == "ping" and j["status"] == "queued" for j in jobs)
    assert len({j["id"] for j in jobs}) == len(items)

    await run_worker()
    for job, item in zip(jobs, items, strict=True):
        view = (await client.get(f"/jobs/{job['id']}")).json()
        assert view["status"] == "complete" and view["result"]["message"] == item["message"]


@pytest.mark.parametrize(
    "bad",
    [
        {1: {"sleep_s": -1}, 3: {"message": 5}},  # out of range; a number for a string
        {0: {"fail_times": "1.5"}},  # a string the schema refuses for a number
        {4: ["not", "an", "object"], 2: None},
    ],
)
async def test_bulk_with_invalid_items_is_422_listing_exactly_the_bad_indexes(
    client: httpx.AsyncClient, redis: RedisClient, bad: dict[int, Any]
) -> None:
    items: list[Any] = [{"message": f"ok {n}"} for n in range(6)]
    for index, item in bad.items():
        items[index] = item
    answer = await client.post("/jobs/ping/bulk", json=items)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert sorted(e["index"] for e in error["details"]["invalid"]) == sorted(bad)
    assert all(e["errors"] for e in error["details"]["invalid"])
    assert await redis.dbsize() == 0  # nothing enqueued, not even the valid items


async def test_bulk_over_max_bulk_is_413_and_enqueues_nothing(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    answer = await client.post("/jobs/ping/bulk", json=[{}] * (settings.max_bulk + 1))
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["message"]
    assert await redis.dbsize() == 0
    at_most = await client.post("/jobs/ping/bulk", json=[{}] * settings.max_bulk)
    assert at_most.status_code == 202
    body = at_most.json()
    assert body["count"] == len(set(body["ids"])) == settings.max_bulk
    # Past 100 items: ids and where to read each job, not every JobView.
    assert body["jobs"] is None and body["job_url"] == "/jobs/{id}"
    assert await redis.exists(keys.of_job(body["ids"][-1]).job(body["ids"][-1]))


async def test_a_bulk_of_100_items_still_answers_every_jobview(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    answer = await client.post("/jobs/ping/bulk", json=[{"message": str(n)} for n in range(100)])
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert [j["id"] for j in body["jobs"]] == body["ids"] and body["count"] == 100
    assert [j["input"]["message"] for j in body["jobs"]] == [str(n) for n in range(100)]


async def test_empty_bulk_is_422(client: httpx.AsyncClient, redis: RedisClient) -> None:
    answer = await client.post("/jobs/ping/bulk", json=[])
    assert answer.status_code == 422
    assert await redis.dbsize() == 0


async def test_bulk_options_apply_to_every_item(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    name = new_queue()
    params: dict[str, Any] = {"queue": name, "priority": 7, "defer_by": 600}
    answer = await client.post("/jobs/ping/bulk", params=params, json=[{}] * 5)
    assert answer.status_code == 202, answer.text
    for job in answer.json()["jobs"]:
        assert job["id"].endswith(f"@{name}") and job["queue"] == name
        assert job["priority"] == 7 and job["status"] == "deferred"
        view = (await client.get(f"/jobs/{job['id']}")).json()
        assert (view["queue"], view["priority"], view["status"]) == (name, 7, "deferred")
    figures = {q["name"]: q for q in (await client.get("/queues")).json()}
    assert (figures[name]["deferred"], figures[name]["queued"]) == (5, 0)
    assert keys.DEFAULT_QUEUE not in figures  # nothing went to the default queue


@pytest.mark.parametrize(
    "params", [{"queue": "bad name"}, {"priority": -1}, {"priority": 1_000_001}, {"defer_by": -1}]
)
async def test_bulk_with_invalid_options_is_422_and_enqueues_nothing(
    client: httpx.AsyncClient, redis: RedisClient, params: dict[str, Any]
) -> None:
    answer = await client.post("/jobs/ping/bulk", params=params, json=[{}, {}])
    assert answer.status_code == 422, answer.text
    assert await redis.dbsize() == 0
