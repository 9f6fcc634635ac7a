"""`GET /jobs` across queues: every job exactly once, newest first, page after page."""

from datetime import datetime
from typing import Any

import httpx

from jobs.enqueue.submit import enqueue_many
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.waiting import eventually
from tests.support.workers import new_queue


async def _all_pages(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = await client.get("/jobs", params=query)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        jobs += page["jobs"]
        cursor = page["next_cursor"]
        if cursor is None:
            return jobs
    raise AssertionError("the pages never ended")


async def _post(client: httpx.AsyncClient, path: str, body: Any, **params: Any) -> Any:
    answer = await client.post(path, params=params, json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()


async def test_pages_across_queues_list_every_job_once_newest_first(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    one, two, three = new_queue("one"), new_queue("two"), new_queue("three")
    enqueued: list[str] = []
    for n in range(3):
        enqueued.append((await _post(client, "/jobs/ping", {"message": f"{n}"}, queue=one))["id"])
    deferred = await _post(client, "/jobs/ping", {}, queue=one, priority=5, defer_by=600)
    enqueued.append(deferred["id"])
    bulk = await _post(
        client, "/jobs/ping/bulk", [{"message": f"b{n}"} for n in range(250)], queue=two
    )
    bulk_ids = bulk["ids"]  # one script call: the same millisecond
    enqueued += bulk_ids
    for _ in range(2):
        enqueued.append((await _post(client, "/jobs/ping", {}, queue=three, priority=1))["id"])
    enqueued.append((await _post(client, "/jobs/ping", {}))["id"])  # the default queue
    many = await enqueue_many(redis, "ping", [{}] * 30, queue=three, settings=settings)
    many_ids = [e.job_id for e in many]
    enqueued += many_ids

    listed = await _all_pages(client, limit=40)
    ids = [j["id"] for j in listed]
    assert len(ids) == len(set(ids)) == len(enqueued)  # each once
    assert set(ids) == set(enqueued)
    times = [datetime.fromisoformat(j["enqueued_at"]) for j in listed]
    assert times == sorted(times, reverse=True)  # newest first
    # Jobs enqueued by one call come newest first too: the last item first.
    for group in (bulk_ids, many_ids):
        assert [i for i in ids if i in set(group)] == group[::-1]

    only_two = await _all_pages(client, queue=two, limit=60)
    assert [j["id"] for j in only_two] == bulk_ids[::-1]
    assert all(j["queue"] == two for j in only_two)
    only_one = await _all_pages(client, queue=one, limit=2)
    assert {j["id"] for j in only_one} == set(enqueued[:4])
    deferred_only = await _all_pages(client, queue=one, status="deferred")
    assert [j["id"] for j in deferred_only] == [deferred["id"]]


async def test_listing_keeps_the_newest_jobs_up_to_the_cap_per_queue(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    capped = settings.model_copy(update={"listing_max_jobs": 5})
    name, other = new_queue(), new_queue("other")
    out = await enqueue_many(redis, "ping", [{}] * 8, queue=name, settings=capped)
    kept = await enqueue_many(redis, "ping", [{}] * 3, queue=other, settings=capped)
    listed = [j["id"] for j in await _all_pages(client, queue=name, limit=4)]
    assert listed == [e.job_id for e in out[:2:-1]]  # the newest five, newest first
    everywhere = {j["id"] for j in await _all_pages(client, limit=4)}
    assert everywhere == {e.job_id for e in [*out[3:], *kept]}


async def test_a_job_is_found_by_a_prefix_of_its_id(client: httpx.AsyncClient) -> None:
    ids = [(await _post(client, "/jobs/ping", {}))["id"] for _ in range(30)]
    wanted = ids[7]
    answer = await client.get("/jobs", params={"id_prefix": wanted[:8]})
    assert answer.status_code == 200, answer.text
    found = [job["id"] for job in answer.json()["jobs"]]
    assert wanted in found
    assert all(job_id.startswith(wanted[:8]) for job_id in found)
    assert answer.json()["next_cursor"] is None
    # Other criteria still apply; glob characters are no wildcard.
    none = await client.get("/jobs", params={"id_prefix": wanted[:8], "name": "always_permanent"})
    assert none.json()["jobs"] == []
    refused = await client.get("/jobs", params={"id_prefix": "[a-z]"})
    assert refused.status_code == 422
    both = await client.get("/jobs", params={"id_prefix": wanted[:8], "cursor": "1:x"})
    assert both.status_code == 422 and both.json()["error"]["code"] == "invalid_request"


async def test_jobs_are_listed_by_enqueue_time(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    first = [await _post(client, "/jobs/ping", {}) for _ in range(3)]
    boundary = max(datetime.fromisoformat(job["enqueued_at"]) for job in first)

    async def server_clock_past_boundary() -> bool:
        seconds, micros = await redis.time()
        return bool(seconds + micros / 1e6 > boundary.timestamp() + 0.002)

    await eventually(server_clock_past_boundary)
    later = [await _post(client, "/jobs/ping", {}) for _ in range(3)]
    after = boundary.timestamp() + 0.001
    iso = datetime.fromtimestamp(after, tz=boundary.tzinfo).isoformat().replace("+00:00", "Z")
    newer = await _all_pages(client, created_after=iso)
    assert {job["id"] for job in later} <= {job["id"] for job in newer}
    assert not {job["id"] for job in first} & {job["id"] for job in newer}
    older = await _all_pages(client, created_before=iso)
    assert {job["id"] for job in first} <= {job["id"] for job in older}
    assert not {job["id"] for job in later} & {job["id"] for job in older}
