"""`?queue=` and `?priority=` over HTTP: where a job goes, how it ranks, and what a retry keeps."""

from typing import Any

import httpx
import pytest

from jobs.layout.connection import RedisClient
from tests.support.workers import RunWorker, new_queue, starts


async def test_queue_override_over_http_puts_the_job_on_that_queue(
    client: httpx.AsyncClient, redis: RedisClient, run_worker: RunWorker
) -> None:
    name = new_queue()
    answer = await client.post("/jobs/on_emails_queue", params={"queue": name}, json={})
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["id"].endswith(f"@{name}") and job["queue"] == name
    assert answer.headers["Location"] == f"/jobs/{job['id']}"
    await run_worker(worker_queues="emails")  # its declared queue: left alone
    assert (await client.get(f"/jobs/{job['id']}")).json()["status"] == "queued"
    await run_worker(worker_queues=name)
    view = (await client.get(f"/jobs/{job['id']}")).json()
    assert view["status"] == "complete" and view["queue"] == name


@pytest.mark.parametrize("name", ["bad name", "a/b", "x" * 65, "", "é", "{q}", "q\n"])
async def test_invalid_queue_over_http_is_422_and_enqueues_nothing(
    client: httpx.AsyncClient, redis: RedisClient, name: str
) -> None:
    answer = await client.post("/jobs/ping", params={"queue": name}, json={})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["loc"] == ["query", "queue"]
    assert await redis.dbsize() == 0


@pytest.mark.parametrize("priority", ["-1", "1000001", "1.5", "high", "9007199254740993"])
async def test_priority_out_of_range_over_http_is_422_and_enqueues_nothing(
    client: httpx.AsyncClient, redis: RedisClient, priority: str
) -> None:
    answer = await client.post("/jobs/ping", params={"priority": priority}, json={})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["loc"] == ["query", "priority"]
    assert await redis.dbsize() == 0


async def test_job_view_shows_the_priority_in_every_status(
    client: httpx.AsyncClient, redis: RedisClient, run_worker: RunWorker
) -> None:
    async def post(name: str, params: dict[str, Any]) -> str:
        answer = await client.post(f"/jobs/{name}", params=params, json={})
        assert answer.status_code == 202 and answer.json()["priority"] == params["priority"]
        return str(answer.json()["id"])

    queued = await post("ping", {"priority": 11})
    deferred = await post("ping", {"priority": 12, "defer_by": 600})
    failing = await post("always_permanent", {"priority": 13})
    by_default = (await client.post("/jobs/ping", json={})).json()["id"]
    expect = {queued: (11, "queued"), deferred: (12, "deferred"), failing: (13, "queued")}
    expect[by_default] = (0, "queued")
    for job_id, (priority, status) in expect.items():
        view = (await client.get(f"/jobs/{job_id}")).json()
        assert (view["priority"], view["status"]) == (priority, status)
    await run_worker()
    expect.update({queued: (11, "complete"), failing: (13, "failed"), by_default: (0, "complete")})
    for job_id, (priority, status) in expect.items():
        view = (await client.get(f"/jobs/{job_id}")).json()
        assert (view["priority"], view["status"]) == (priority, status)
    listed = {j["id"]: j["priority"] for j in (await client.get("/jobs")).json()["jobs"]}
    assert listed == {job_id: priority for job_id, (priority, _) in expect.items()}


async def test_priority_and_queue_survive_a_retry_over_http(
    client: httpx.AsyncClient, redis: RedisClient, run_worker: RunWorker
) -> None:
    name = new_queue()
    params: dict[str, str | int] = {"queue": name, "priority": 42}
    failed = (await client.post("/jobs/always_permanent", params=params, json={})).json()
    await run_worker(worker_queues=name)
    assert (await client.get(f"/jobs/{failed['id']}")).json()["status"] == "failed"
    params = {"queue": name, "priority": 17, "defer_by": 600}
    aborted = (await client.post("/jobs/ping", params=params, json={})).json()
    assert (await client.delete(f"/jobs/{aborted['id']}")).json()["status"] == "aborted"

    for original, priority in ((failed, 42), (aborted, 17)):
        answer = await client.post(f"/jobs/{original['id']}/retry")
        assert answer.status_code == 202, answer.text
        retry = answer.json()
        assert retry["id"] != original["id"] and retry["id"].endswith(f"@{name}")
        assert (retry["queue"], retry["priority"], retry["status"]) == (name, priority, "queued")
        view = (await client.get(f"/jobs/{retry['id']}")).json()
        assert (view["queue"], view["priority"], view["status"]) == (name, priority, "queued")


async def test_retried_job_over_http_runs_at_its_priority(
    client: httpx.AsyncClient, redis: RedisClient, run_worker: RunWorker
) -> None:
    name = new_queue()
    params: dict[str, str | int] = {"queue": name, "priority": 4, "defer_by": 600}
    original = await client.post("/jobs/record_start", params=params, json={"label": "retry"})
    await client.delete(f"/jobs/{original.json()['id']}")
    for label, priority in (("p9", 9), ("p1", 1)):
        params = {"queue": name, "priority": priority}
        await client.post("/jobs/record_start", params=params, json={"label": label})
    assert (await client.post(f"/jobs/{original.json()['id']}/retry")).status_code == 202
    await run_worker(worker_queues=name, worker_concurrency=1, claim_batch=1)
    assert await starts(redis) == ["p1", "retry", "p9"]


async def test_aborted_prioritised_jobs_never_start(
    client: httpx.AsyncClient, redis: RedisClient, run_worker: RunWorker
) -> None:
    name = new_queue()
    body = {"label": "aborted"}
    ready = await client.post(
        "/jobs/record_start", params={"queue": name, "priority": 3}, json=body
    )
    params: dict[str, str | float] = {"queue": name, "priority": 4, "defer_by": 0.05}
    deferred = await client.post("/jobs/record_start", params=params, json=body)
    for answer in (ready, deferred):
        aborted = await client.delete(f"/jobs/{answer.json()['id']}")
        assert aborted.status_code == 202 and aborted.json()["status"] == "aborted"
        assert aborted.json()["priority"] == answer.json()["priority"]
    figures = {f["name"]: f for f in (await client.get("/queues")).json()}[name]
    assert (figures["queued"], figures["deferred"], figures["failed"]) == (0, 0, 2)
    await client.post("/jobs/record_start", params={"queue": name}, json={"label": "sentinel"})
    await run_worker(worker_queues=name)
    assert await starts(redis) == ["sentinel"]
