"""The service's end-to-end paths on a real 3-primary Valkey Cluster: real `python -m jobs`
workers and a uvicorn web process, configured by `REDIS_CLUSTER_NODES`, with jobs on queues
whose slots live on different primaries."""

import asyncio
import json
from typing import Any

import httpx
import pytest

from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.cluster import ClusterProcesses, ValkeyCluster
from tests.support.crashes import killed_workers_job_runs_again_after_the_lease
from tests.support.jobs.probe_jobs import cancelled_key, runs_key
from tests.support.waiting import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

QUEUES = ("a", "b", "c")
"""Their hash tags land on three different primaries (checked below)."""
SERVE = {"WORKER_QUEUES": ",".join(QUEUES)}


async def test_the_queues_live_on_three_different_primaries(cluster: ValkeyCluster) -> None:
    primaries = {await cluster.primary_port_of(keys.queue(q).due) for q in QUEUES}
    assert len(primaries) == 3


async def _final(api: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    view: dict[str, Any] = (await api.get(f"/jobs/{job_id}", params={"wait": 10})).json()
    return view


async def test_enqueue_claim_retry_idempotency_and_bulk_across_shards(
    processes: ClusterProcesses, redis: RedisClient, settings: Settings
) -> None:
    url = await processes.web()
    worker = await processes.worker(**SERVE)
    async with httpx.AsyncClient(base_url=url, timeout=20) as api:
        # Over HTTP, one per queue; one of them fails twice first (retried with backoff).
        posted = []
        for queue in QUEUES:
            response = await api.post(
                "/jobs/ping", params={"queue": queue}, json={"message": queue}
            )
            assert response.status_code == 202, response.text
            posted.append(response.json()["id"])
        flaky = await api.post("/jobs/ping", params={"queue": "b"}, json={"fail_times": 2})
        # From Python, straight into a queue of another shard.
        direct = await enqueue(redis, "ping", {"message": "py"}, queue="c", settings=settings)
        # Idempotency: same key and input gives the same job; other input is a conflict.
        headers = {"Idempotency-Key": "order-17"}
        first = await api.post("/jobs/ping", params={"queue": "a"}, json={}, headers=headers)
        again = await api.post("/jobs/ping", params={"queue": "a"}, json={}, headers=headers)
        other = await api.post(
            "/jobs/ping", params={"queue": "a"}, json={"message": "x"}, headers=headers
        )
        assert (first.status_code, again.status_code, other.status_code) == (202, 200, 409)
        assert again.json()["id"] == first.json()["id"]
        # Bulk, onto the third shard.
        bulk = await api.post(
            "/jobs/ping/bulk", params={"queue": "b"}, json=[{"message": str(i)} for i in range(50)]
        )
        assert bulk.status_code == 202, bulk.text
        bulk_ids = [view["id"] for view in bulk.json()["jobs"]]

        for job_id, queue in zip(posted, QUEUES, strict=True):
            view = await _final(api, job_id)
            assert (view["status"], view["queue"], view["result"]["message"]) == (
                "complete",
                queue,
                queue,
            )
            assert view["worker"] == worker.worker_id
        retried = await _final(api, flaky.json()["id"])
        assert (retried["status"], retried["tries"]) == ("complete", 3)
        assert (await _final(api, direct.job_id))["status"] == "complete"
        assert (await _final(api, first.json()["id"]))["status"] == "complete"
        finals = await asyncio.gather(*(_final(api, job_id) for job_id in bulk_ids))
        assert [v["status"] for v in finals] == ["complete"] * 50
        assert [v["result"]["message"] for v in finals] == [str(i) for i in range(50)]

        queues = {q["name"]: q for q in (await api.get("/queues")).json()}
        assert all(queues[q]["workers"] == 1 for q in QUEUES)
        # Reads that span the shards: the listing merges the queues, readiness and metrics.
        listed = (await api.get("/jobs", params={"limit": 200})).json()["jobs"]
        assert {v["queue"] for v in listed} == set(QUEUES)
        assert len(listed) == len(posted) + 3 + 50  # + flaky, direct, idempotent
        assert (await api.get("/ready")).status_code == 200

        async def counted() -> bool:
            metrics = (await api.get("/metrics")).text
            return 'jobsvc_jobs_total{job="ping",outcome="complete"} 56.0' in metrics

        await eventually(counted)
    assert "Traceback" not in processes.log_text("worker")
    assert "Traceback" not in processes.log_text("web")


async def test_abort_of_a_queued_and_of_a_running_job(
    processes: ClusterProcesses, redis: RedisClient
) -> None:
    url = await processes.web()
    await processes.worker(**SERVE)
    async with httpx.AsyncClient(base_url=url, timeout=20) as api:
        # Queued: its queue is paused, so it cannot start before the abort.
        assert (await api.post("/queues/c/pause")).status_code == 204
        queued = (await api.post("/jobs/ping", params={"queue": "c"}, json={})).json()["id"]
        assert (await api.delete(f"/jobs/{queued}")).status_code == 202
        assert (await api.get(f"/jobs/{queued}")).json()["status"] == "aborted"
        assert (await api.post("/queues/c/resume")).status_code == 204

        # Running: abort reaches the worker holding it, which cancels the try.
        gate = {"gate": "test:gate:never"}
        running = (await api.post("/jobs/wait_for_gate", params={"queue": "a"}, json=gate)).json()

        async def started() -> bool:
            return bool(await redis.get(runs_key(running["id"])) == b"1")

        await eventually(started)
        assert (await api.delete(f"/jobs/{running['id']}")).status_code == 202
        view = await _final(api, running["id"])
        assert view["status"] == "aborted"
        assert await redis.get(cancelled_key(running["id"])) == b"1"
        # The paused-then-resumed queue still runs jobs.
        after = (await api.post("/jobs/ping", params={"queue": "c"}, json={})).json()["id"]
        assert (await _final(api, after))["status"] == "complete"
        assert (await api.get(f"/jobs/{queued}")).json()["status"] == "aborted"


async def test_event_stream_follows_a_job_to_completion(
    processes: ClusterProcesses, redis: RedisClient
) -> None:
    """On the default queue (a worker serving one queue: its BLPOP and claim go together)."""
    url = await processes.web()
    await processes.worker()
    views: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=url, timeout=20) as client:
        gate = {"gate": "test:gate:sse", "fraction": 0.3, "message": "a third"}
        job_id = (await client.post("/jobs/wait_for_gate", json=gate)).json()["id"]
        async with client.stream("GET", f"/jobs/{job_id}/events") as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                views.append(json.loads(line.removeprefix("data: ")))
                if views[-1]["progress"] and views[-1]["status"] == "in_progress":
                    await redis.set("test:gate:sse", "1")
    assert views[0]["status"] in ("queued", "in_progress")
    assert any(v["progress"] == {"fraction": 0.3, "message": "a third"} for v in views)
    assert views[-1]["status"] == "complete" and views[-1]["result"]["tries"] == 1


async def test_cron_ticks_run_once_each_with_two_workers(
    processes: ClusterProcesses, redis: RedisClient
) -> None:
    from tests.support.jobs.cron_jobs import TICKS

    cron = {"JOB_MODULES": "tests.support.jobs.cron_jobs"}
    await processes.worker(**cron)
    await processes.worker(**cron)

    async def ticked() -> bool:
        return int(await redis.scard(TICKS)) >= 3  # type: ignore[misc]

    await eventually(ticked, timeout_s=15)
    ran = [m.decode() for m in await redis.smembers(TICKS)]  # type: ignore[misc]
    runs = [await redis.get(f"test:cron:runs:{job_id}") for job_id in ran]
    assert runs == [b"1"] * len(ran)  # each tick ran once, though both workers schedule it


async def test_job_of_a_killed_worker_runs_again_on_another(
    processes: ClusterProcesses, redis: RedisClient, settings: Settings
) -> None:
    await killed_workers_job_runs_again_after_the_lease(
        processes, redis, settings, queue="b", complete_within_s=15, **SERVE
    )
