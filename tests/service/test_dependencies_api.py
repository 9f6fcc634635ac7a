"""Dependencies over HTTP: `?after=a&after=b` and `on_parent_failure` on `POST /jobs/{name}` and
`/bulk`, the `waiting` view, its release, the fail/ignore rules, and what is refused (422)."""

from typing import Any

import httpx
import pytest

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from service.http_client import JobServiceClient, JobServiceError
from service.main import create_app
from settings import Settings
from tests.support.workers import RunWorker, worker_in_background


async def enqueue(
    client: httpx.AsyncClient, name: str, body: Any = None, **params: Any
) -> dict[str, Any]:
    answer = await client.post(f"/jobs/{name}", json=body or {}, params=params)
    assert answer.status_code == 202, answer.text
    view: dict[str, Any] = answer.json()
    return view


async def final(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    answer = await client.get(f"/jobs/{job_id}", params={"wait": 10})
    assert answer.status_code == 200
    view: dict[str, Any] = answer.json()
    assert view["status"] in ("complete", "failed", "aborted"), view
    return view


async def test_a_job_after_others_answers_waiting_and_runs_once_they_are_final(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    a = await enqueue(client, "numbered", {"n": 1})
    b = await enqueue(client, "numbered", {"n": 2})
    child = await enqueue(client, "gather", {"n": 10}, after=[a["id"], b["id"]])
    assert child["status"] == "waiting"
    assert child["after"] == [a["id"], b["id"]] and child["waiting_on"] == 2
    assert (await client.get(f"/jobs/{child['id']}")).json()["status"] == "waiting"
    await run_worker()
    done = await final(client, child["id"])
    assert done["status"] == "complete"
    assert done["result"]["total"] == 13
    assert done["result"]["parent_results"] == {a["id"]: {"n": 1}, b["id"]: {"n": 2}}
    assert done["waiting_on"] is None


async def test_a_parent_final_already_answers_queued_not_waiting(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    parent = await enqueue(client, "numbered", {"n": 1})
    await run_worker()
    assert (await final(client, parent["id"]))["status"] == "complete"
    child = await enqueue(client, "gather", after=parent["id"])
    assert child["status"] == "queued"  # released while the request was answered


@pytest.mark.parametrize(
    ("rule", "status", "error"), [("fail", "failed", "ParentFailed"), ("ignore", "complete", None)]
)
async def test_a_failed_parent_fails_or_is_ignored_as_the_child_asked(
    client: httpx.AsyncClient, run_worker: RunWorker, rule: str, status: str, error: str | None
) -> None:
    bad = await enqueue(client, "numbered", {"n": 1, "fail": True})
    child = await enqueue(client, "gather", after=bad["id"], on_parent_failure=rule)
    assert child["status"] == "waiting"
    await run_worker()
    done = await final(client, child["id"])
    assert done["status"] == status
    if error:
        assert done["error"]["type"] == error and bad["id"] in done["error"]["message"]
        assert done["tries"] == 0 and done["started_at"] is None
    else:
        assert done["result"]["parent_failures"][bad["id"]]["status"] == "failed"


async def test_the_default_rule_is_fail_even_without_saying_so(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    bad = await enqueue(client, "numbered", {"fail": True})
    child = await enqueue(client, "gather", after=bad["id"])
    await run_worker()
    assert (await final(client, child["id"]))["error"]["type"] == "ParentFailed"


async def test_an_unknown_parent_is_422_listing_it_and_nothing_is_enqueued(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    known = await enqueue(client, "numbered", {"n": 1})
    for path, body in (("/jobs/gather", {}), ("/jobs/gather/bulk", [{}, {}])):
        answer = await client.post(
            path, json=body, params={"after": [known["id"], "nope", "gone@other"]}
        )
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "unknown_parent"
        assert error["details"] == {"job_ids": ["nope", "gone@other"]}
    listed = await client.get("/jobs", params={"name": "gather"})
    assert listed.json()["jobs"] == []
    assert await redis.zcard(keys.queue(keys.DEFAULT_QUEUE).waiting) == 0


@pytest.mark.parametrize(
    "params",
    [
        {"defer_by": 5},
        {"defer_until": "2999-01-01T00:00:00Z"},
        {"on_parent_failure": "maybe"},
    ],
)
async def test_after_with_a_defer_or_an_unknown_rule_is_422(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    parent = await enqueue(client, "numbered", {"n": 1})
    answer = await client.post("/jobs/gather", json={}, params={"after": parent["id"], **params})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] in ("invalid_dependency", "invalid_request")


async def test_a_malformed_parent_id_is_422(client: httpx.AsyncClient) -> None:
    answer = await client.post("/jobs/gather", json={}, params={"after": "no spaces allowed"})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["loc"] == ["query", "after", 0]


async def test_a_bulk_after_a_parent_is_a_waiting_fan_out(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    parent = await enqueue(client, "numbered", {"n": 5})
    answer = await client.post(
        "/jobs/gather/bulk", json=[{"n": 1}, {"n": 2}, {"n": 3}], params={"after": parent["id"]}
    )
    assert answer.status_code == 202
    jobs = answer.json()["jobs"]
    assert [j["status"] for j in jobs] == ["waiting"] * 3
    assert all(j["after"] == [parent["id"]] for j in jobs)
    await run_worker()
    totals = [(await final(client, j["id"]))["result"]["total"] for j in jobs]
    assert totals == [6, 7, 8]


async def test_the_http_client_sends_after_and_the_rule(
    client: httpx.AsyncClient, settings: Settings, redis: RedisClient
) -> None:
    jobs = JobServiceClient("http://test", transport=client._transport)  # the app in-process
    bad = await jobs.enqueue("numbered", {"fail": True})
    good = await jobs.enqueue("numbered", {"n": 2})
    child = await jobs.enqueue("gather", after=[bad.id, good.id], on_parent_failure="ignore")
    assert child.status == "waiting" and child.after == [bad.id, good.id]
    with pytest.raises(JobServiceError) as refused:
        await jobs.enqueue("gather", after=["nope"])
    assert refused.value.status == 422 and refused.value.code == "unknown_parent"
    async with worker_in_background(settings, redis):
        done = await jobs.wait(child.id, timeout=10)
    assert done.status == "complete" and done.result is not None
    assert done.result["parent_results"] == {good.id: {"n": 2}}
    assert list(done.result["parent_failures"]) == [bad.id]


@pytest.mark.parametrize(
    ("route", "parents", "body"), [("/jobs/gather", 4, {}), ("/jobs/gather/bulk", 2, [{}, {}])]
)
async def test_past_max_edges_per_request_is_413_too_many_edges_and_nothing_is_written(
    settings: Settings, redis: RedisClient, route: str, parents: int, body: Any
) -> None:
    """4 edges where MAX_EDGES_PER_REQUEST is 3: one job after 4 parents, 2 items after 2."""
    capped = create_app(settings.model_copy(update={"max_edges_per_request": 3}))
    async with capped.router.lifespan_context(capped):
        transport = httpx.ASGITransport(app=capped)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            after = [(await enqueue(client, "ping"))["id"] for _ in range(parents)]
            before = await redis.dbsize()
            answer = await client.post(route, params={"after": after}, json=body)
            assert answer.status_code == 413, answer.text
            error = answer.json()["error"]
            assert error["code"] == "too_many_edges"
            assert error["details"] == {"edges": 4, "limit": 3}
            assert await redis.dbsize() == before
