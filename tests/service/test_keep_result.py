"""`@job(keep_result=0)`: the final status stays readable for a short grace, and is not listed."""

import httpx

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.workers import RunWorker


async def test_job_keeping_no_result_is_readable_for_the_grace_and_unlisted(
    client: httpx.AsyncClient, redis: RedisClient, run_worker: RunWorker
) -> None:
    gone = (await client.post("/jobs/fire_and_forget", json={})).json()["id"]
    kept = (await client.post("/jobs/ping", json={})).json()["id"]
    listed = {j["id"] for j in (await client.get("/jobs")).json()["jobs"]}
    assert listed == {gone, kept}  # listed while it waits
    grace_s = 7
    await run_worker(result_grace_s=grace_s)

    view = (await client.get(f"/jobs/{gone}", params={"wait": 5})).json()
    assert view["status"] == "complete" and view["name"] == "fire_and_forget"
    ttl_ms = await redis.pttl(keys.of_job(gone).result(gone))
    assert 0 < ttl_ms <= grace_s * 1000
    assert not await redis.exists(keys.of_job(gone).job(gone))
    for params in ({}, {"status": "complete"}, {"name": "fire_and_forget"}):
        listed = {j["id"] for j in (await client.get("/jobs", params=params)).json()["jobs"]}
        assert gone not in listed
    assert kept in {j["id"] for j in (await client.get("/jobs")).json()["jobs"]}


async def test_result_of_an_ordinary_job_is_kept_for_result_ttl(
    client: httpx.AsyncClient, redis: RedisClient, run_worker: RunWorker, settings: Settings
) -> None:
    job_id = (await client.post("/jobs/ping", json={})).json()["id"]
    await run_worker()
    assert (await client.get(f"/jobs/{job_id}")).json()["status"] == "complete"
    ttl_ms = await redis.pttl(keys.of_job(job_id).result(job_id))
    # Within a minute of the full retention (the TTL counts down from the settle).
    assert settings.result_ttl_s * 1000 - 60_000 < ttl_ms <= settings.result_ttl_s * 1000
