"""Failed jobs: kept longer than successful ones, listed, retried over HTTP; listing pages."""

import asyncio
from typing import Any

import httpx

from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.workers import RunWorker


async def test_failed_results_are_kept_longer_than_successful_ones(
    client: httpx.AsyncClient, redis: RedisClient, run_worker: RunWorker
) -> None:
    ok = (await client.post("/jobs/ping", json={})).json()["id"]
    failed = (await client.post("/jobs/always_permanent", json={})).json()["id"]
    await run_worker(result_ttl_s=100, failed_ttl_s=1000)
    ok_ttl = await redis.pttl(keys.of_job(ok).result(ok))
    failed_ttl = await redis.pttl(keys.of_job(failed).result(failed))
    assert 90_000 < ok_ttl <= 100_000
    assert 900_000 < failed_ttl <= 1_000_000


async def test_aborted_results_are_kept_as_long_as_failed_ones(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    job_id = (await client.post("/jobs/ping", json={})).json()["id"]
    assert (await client.delete(f"/jobs/{job_id}")).status_code == 202
    ttl = await redis.pttl(keys.of_job(job_id).result(job_id))
    assert settings.result_ttl_s * 1000 < ttl <= settings.failed_ttl_s * 1000


async def _page(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/jobs", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_failed_jobs_are_listed_by_status_and_name(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    failed = [(await client.post("/jobs/always_permanent", json={})).json()["id"] for _ in range(3)]
    other_failed = (await client.post("/jobs/not_retried_value_error", json={})).json()["id"]
    (await client.post("/jobs/ping", json={})).json()["id"]
    aborted = (await client.post("/jobs/ping", json={}, params={"defer_by": 60})).json()["id"]
    await client.delete(f"/jobs/{aborted}")
    await run_worker()
    listed = await _page(client, status="failed")
    assert {j["id"] for j in listed["jobs"]} == {*failed, other_failed}
    assert all(j["status"] == "failed" and j["error"]["type"] for j in listed["jobs"])
    by_name = await _page(client, status="failed", name="always_permanent")
    assert {j["id"] for j in by_name["jobs"]} == set(failed)
    assert [j["id"] for j in (await _page(client, status="aborted"))["jobs"]] == [aborted]
    complete = (await _page(client, status="complete"))["jobs"]
    assert [j["name"] for j in complete] == ["ping"]


async def _all_pages(client: httpx.AsyncClient, **params: Any) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        page = await _page(client, **params, **({"cursor": cursor} if cursor else {}))
        pages.append(page["jobs"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 10, "paging does not end"


async def test_paging_returns_every_job_once_newest_first(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    # Enqueued concurrently, so that many share a millisecond: the cursor must handle ties.
    created = await asyncio.gather(
        *(enqueue(redis, "ping", {"message": str(n)}, settings=settings) for n in range(25))
    )
    pages = await _all_pages(client, limit=10)
    assert [len(p) for p in pages] == [10, 10, 5]
    listed = [job for page in pages for job in page]
    ids = [job["id"] for job in listed]
    assert len(ids) == len(set(ids)) == 25 and set(ids) == {e.job_id for e in created}
    enqueued_at = [job["enqueued_at"] for job in listed]
    assert enqueued_at == sorted(enqueued_at, reverse=True)
    expected = [m.decode() for m in await redis.zrevrange(keys.queue("arq:queue").index, 0, -1)]
    assert ids == expected


async def test_paging_failed_jobs_returns_every_one_once(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    failed = {(await client.post("/jobs/always_permanent", json={})).json()["id"] for _ in range(7)}
    for _ in range(4):
        await client.post("/jobs/ping", json={})
    await run_worker()
    pages = await _all_pages(client, status="failed", limit=3)
    ids = [job["id"] for page in pages for job in page]
    assert len(ids) == 7 and set(ids) == failed
    finished = [job["finished_at"] for page in pages for job in page]
    assert finished == sorted(finished, reverse=True)


async def test_failed_job_is_retried_as_a_new_job_with_the_same_input(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    failed = (await client.post("/jobs/too_slow", json={"seconds": 0.5})).json()["id"]
    await run_worker()
    response = await client.post(f"/jobs/{failed}/retry")
    assert response.status_code == 202
    retried = response.json()
    assert retried["id"] != failed and response.headers["location"] == f"/jobs/{retried['id']}"
    assert retried["status"] == "queued" and retried["tries"] == 0
    assert retried["name"] == "too_slow" and retried["input"] == {"seconds": 0.5}
    await run_worker()
    again = (await client.get(f"/jobs/{retried['id']}")).json()
    assert again["status"] == "failed" and again["tries"] == 2
    assert (await client.get(f"/jobs/{failed}")).json()["status"] == "failed"  # untouched


async def test_aborted_job_can_be_retried(client: httpx.AsyncClient, run_worker: RunWorker) -> None:
    aborted = (await client.post("/jobs/ping", json={"message": "later"})).json()["id"]
    await client.delete(f"/jobs/{aborted}")
    response = await client.post(f"/jobs/{aborted}/retry")
    assert response.status_code == 202
    await run_worker()
    view = (await client.get(f"/jobs/{response.json()['id']}")).json()
    assert view["status"] == "complete" and view["result"]["message"] == "later"


async def test_retry_is_409_unless_failed_or_aborted(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    done = (await client.post("/jobs/ping", json={})).json()["id"]
    await run_worker()
    queued = (await client.post("/jobs/ping", json={}, params={"defer_by": 60})).json()["id"]
    for job_id in (done, queued):
        response = await client.post(f"/jobs/{job_id}/retry")
        assert response.status_code == 409 and response.json()["error"]["code"]
    assert (await client.post("/jobs/nope/retry")).status_code == 404


async def test_retry_all_failed_jobs_of_a_type_then_purge_them(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    failing = [
        (await client.post("/jobs/always_permanent", json={})).json()["id"] for _ in range(3)
    ]
    other = (await client.post("/jobs/too_slow", json={"seconds": 0.5})).json()["id"]
    await run_worker()
    retried = await client.post("/failed/retry", params={"name": "always_permanent"})
    assert retried.status_code == 200 and retried.json() == {"count": 3, "skipped": 0}
    # The retried ones left the failed list; a second "retry all" finds nothing of them.
    assert (await client.post("/failed/retry", params={"name": "always_permanent"})).json()[
        "count"
    ] == 0
    await run_worker()  # the three copies fail again
    listed = (await client.get("/jobs", params={"status": "failed"})).json()["jobs"]
    names = sorted(j["name"] for j in listed)
    assert names == ["always_permanent"] * 3 + ["too_slow"]
    assert not {j["id"] for j in listed} & set(failing)  # the new copies, not the originals
    purged = await client.delete("/failed", params={"name": "always_permanent"})
    assert purged.json()["count"] == 3
    remaining = (await client.get("/jobs", params={"status": "failed"})).json()["jobs"]
    assert [j["id"] for j in remaining] == [other]
    assert (await client.get(f"/jobs/{failing[0]}")).status_code == 200  # still readable
