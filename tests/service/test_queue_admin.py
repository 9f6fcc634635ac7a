"""`GET /queues` figures, and pausing and resuming a queue over HTTP."""

from typing import Any

import httpx
import pytest

import jobs.enqueue.submit
import tests.support.jobs.probe_jobs  # noqa: F401 (declares wait_for_gate)
from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.waiting import eventually
from tests.support.workers import RunWorker, new_queue, starts, worker_in_background


async def _queues(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    answer = await client.get("/queues")
    assert answer.status_code == 200, answer.text
    return {q["name"]: q for q in answer.json()}


def _figures(queue: dict[str, Any]) -> dict[str, Any]:
    names = ("queued", "deferred", "in_progress", "failed", "paused", "workers")
    return {name: queue[name] for name in names}


async def test_queues_lists_every_queue_with_jobs_or_a_live_worker_with_its_figures(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    busy, paused, served = (new_queue(p) for p in ("busy", "paused", "served"))
    aborted_only = new_queue("aborted")
    failed = await client.post("/jobs/always_permanent", params={"queue": busy}, json={})
    assert failed.status_code == 202
    await run_worker(worker_queues=busy)
    for params in ({}, {"priority": 3}, {"defer_by": 600}, {"priority": 2, "defer_by": 600}):
        answer = await client.post("/jobs/ping", params={"queue": busy, **params}, json={})
        assert answer.status_code == 202
    assert (await client.post(f"/queues/{paused}/pause")).status_code == 204
    assert (await client.post("/jobs/ping", params={"queue": paused}, json={})).status_code == 202
    aborted = await enqueue(redis, "ping", {}, queue=aborted_only, settings=settings)
    assert (await client.delete(f"/jobs/{aborted.job_id}")).status_code == 202

    gate = f"test:gate:{served}"
    running = await enqueue(redis, "wait_for_gate", {"gate": gate}, queue=served, settings=settings)
    async with worker_in_background(settings, redis, worker_queues=served):

        async def running_seen() -> bool:
            return (await _queues(client)).get(served, {}).get("in_progress") == 1

        await eventually(running_seen)
        queues = await _queues(client)
        assert _figures(queues[busy]) == {
            "queued": 2,
            "deferred": 2,
            "in_progress": 0,
            "failed": 1,
            "paused": False,
            "workers": 0,
        }
        assert queues[busy]["oldest_waiting_s"] is not None
        assert _figures(queues[paused]) == {
            "queued": 1,
            "deferred": 0,
            "in_progress": 0,
            "failed": 0,
            "paused": True,
            "workers": 0,
        }
        assert _figures(queues[served]) == {
            "queued": 0,
            "deferred": 0,
            "in_progress": 1,
            "failed": 0,
            "paused": False,
            "workers": 1,
        }
        # An aborted job counts as failed; a queue with nothing else is still listed for it.
        assert _figures(queues[aborted_only])["failed"] == 1
        # Nothing queued there and no live worker serves them.
        assert "emails" not in queues and settings.queue_name not in queues

        await redis.set(gate, "1")

        async def finished() -> bool:
            view = (await client.get(f"/jobs/{running.job_id}")).json()
            return bool(view["status"] == "complete")

        await eventually(finished)
    # Its worker has gone and it holds no job: no longer listed.
    assert served not in await _queues(client)


async def test_paused_queue_accepts_jobs_and_starts_none_until_resumed(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    paused, other = new_queue("paused"), new_queue("other")
    assert (await client.post(f"/queues/{paused}/pause")).status_code == 204
    ids = []
    for n in range(3):
        answer = await client.post(
            "/jobs/record_start", params={"queue": paused}, json={"label": f"paused {n}"}
        )
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["id"])
    # Served first (strict order): were the pause ignored, its jobs would start before the
    # sentinel on the other queue.
    async with worker_in_background(settings, redis, worker_queues=f"{paused},{other}"):
        sentinel = await enqueue(
            redis, "record_start", {"label": "sentinel"}, queue=other, settings=settings
        )

        async def complete(job_id: str) -> bool:
            view = (await client.get(f"/jobs/{job_id}")).json()
            return bool(view["status"] == "complete")

        await eventually(lambda: complete(sentinel.job_id))
        assert await starts(redis) == ["sentinel"]
        for job_id in ids:
            assert (await client.get(f"/jobs/{job_id}")).json()["status"] == "queued"
        figures = (await _queues(client))[paused]
        assert figures["paused"] is True and figures["queued"] == 3

        assert (await client.post(f"/queues/{paused}/resume")).status_code == 204

        async def all_complete() -> bool:
            return all([await complete(job_id) for job_id in ids])

        await eventually(all_complete)
        assert sorted((await starts(redis))[1:]) == ["paused 0", "paused 1", "paused 2"]
        assert (await _queues(client))[paused]["paused"] is False


@pytest.mark.parametrize("action", ["pause", "resume"])
@pytest.mark.parametrize("name", ["bad name", "a{b}", "é", "x" * 65])
async def test_pause_or_resume_of_an_invalid_queue_name_is_422(
    client: httpx.AsyncClient, redis: RedisClient, action: str, name: str
) -> None:
    answer = await client.post(f"/queues/{name}/{action}")
    assert answer.status_code == 422, answer.text
    assert "error" in answer.json()
    assert await redis.dbsize() == 0


async def test_queue_is_listed_again_after_its_registry_entry_is_lost(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    name = new_queue()
    await enqueue(redis, "ping", {}, queue=name, settings=settings)
    await redis.flushdb()  # the data is lost (a restart without persistence, a bad failover)
    again = await enqueue(redis, "ping", {}, queue=name, settings=settings)
    assert name in await _queues(client)
    listed = [j["id"] for j in (await client.get("/jobs")).json()["jobs"]]
    assert listed == [again.job_id]


async def test_queue_is_listed_again_after_the_registry_alone_is_lost(
    client: httpx.AsyncClient,
    redis: RedisClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Producers name their queues again every REGISTER_EVERY_S (a minute; here: at once)."""
    monkeypatch.setattr(jobs.enqueue.submit, "REGISTER_EVERY_S", 0.0)
    name = new_queue()
    await enqueue(redis, "ping", {}, queue=name, settings=settings)
    await redis.delete(keys.QUEUES)  # lost alone: e.g. on a shard that failed over badly
    again = await enqueue(redis, "ping", {}, queue=name, settings=settings)
    assert name in await _queues(client)
    listed = {j["id"] for j in (await client.get("/jobs")).json()["jobs"]}
    assert again.job_id in listed
