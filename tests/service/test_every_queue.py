"""Every queue is served somewhere: `WORKER_QUEUES=*` serves each queue enqueues name, even one
created after the worker started; an enqueue no live worker will run says so, and `/ready`."""

import httpx

from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.waiting import eventually
from tests.support.workers import RunWorker, new_queue, worker_in_background


async def _final(client: httpx.AsyncClient, job_id: str) -> dict[str, object]:
    view: dict[str, object] = (await client.get(f"/jobs/{job_id}", params={"wait": 10})).json()
    return view


async def test_a_star_worker_runs_a_queue_created_after_it_started(
    client: httpx.AsyncClient, settings: Settings, redis: RedisClient
) -> None:
    async with worker_in_background(settings, redis, worker_queues="*"):
        late = new_queue("late")  # no job ever named it before the worker started
        answer = await client.post("/jobs/ping", params={"queue": late}, json={"message": "x"})
        assert answer.status_code == 202 and "warning" not in answer.headers
        default = (await client.post("/jobs/ping", json={})).json()["id"]
        assert (await _final(client, answer.json()["id"]))["status"] == "complete"
        assert (await _final(client, default))["status"] == "complete"
        queues = {q["name"]: q for q in (await client.get("/queues")).json()}
        assert queues[late]["workers"] == 1


async def test_a_burst_star_worker_runs_every_queue_that_has_jobs(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    ids = [
        (await client.post("/jobs/ping", params={"queue": new_queue()}, json={})).json()["id"]
        for _ in range(3)
    ]
    await run_worker(worker_queues="*")
    assert [(await _final(client, i))["status"] for i in ids] == ["complete"] * 3


async def test_an_enqueue_no_live_worker_serves_warns_and_ready_says_so(
    client: httpx.AsyncClient, settings: Settings, redis: RedisClient
) -> None:
    lonely = new_queue("lonely")
    async with worker_in_background(settings, redis):  # serves the default queue only
        single = await client.post("/jobs/ping", params={"queue": lonely}, json={})
        assert single.status_code == 202
        assert single.headers["warning"] == f"199 - \"no live worker serves queue '{lonely}'\""
        bulk = await client.post("/jobs/ping/bulk", params={"queue": lonely}, json=[{}])
        assert bulk.status_code == 202 and lonely in bulk.headers["warning"]
        served = await client.post("/jobs/ping", json={})
        assert served.status_code == 202 and "warning" not in served.headers
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert (
            f"no live worker serves queue '{lonely}', which holds jobs"
            in (ready.json()["warnings"])
        )

        async def served_by_star_worker() -> bool:
            answer = await client.post("/jobs/ping", params={"queue": lonely}, json={})
            return "warning" not in answer.headers

        async with worker_in_background(settings, redis, worker_queues="*"):
            await eventually(served_by_star_worker)

            async def ready_without_warning() -> bool:
                warnings = (await client.get("/ready")).json()["warnings"]
                return not any(lonely in w for w in warnings)

            await eventually(ready_without_warning)


async def test_a_workflow_warns_of_each_node_queue_no_live_worker_serves(
    client: httpx.AsyncClient, settings: Settings, redis: RedisClient
) -> None:
    other = new_queue("other")
    nodes = {
        "a": {"job": "ping", "input": {}},
        "b": {"job": "ping", "input": {}, "queue": other, "after": ["a"]},
    }
    async with worker_in_background(settings, redis):  # the default queue only
        answer = await client.post("/workflows", json={"nodes": nodes})
    assert answer.status_code == 202, answer.text
    assert answer.headers.get_list("warning") == [
        f"199 - \"no live worker serves queue '{other}'\""
    ]
