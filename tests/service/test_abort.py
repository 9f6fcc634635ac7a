"""`DELETE /jobs/{id}`: queued and deferred jobs never start, running ones are cancelled."""

import asyncio

import httpx

import tests.support.jobs.probe_jobs  # noqa: F401  (declares `wait_for_gate`)
from jobs.enqueue.submit import enqueue
from jobs.layout import keys, scripts
from jobs.layout.connection import RedisClient
from jobs.layout.records import LeaseToken, result_data
from jobs.worker.loop import Worker
from settings import Settings
from tests.support.jobs.probe_jobs import cancelled_key, runs_key
from tests.support.waiting import eventually
from tests.support.workers import RunWorker


async def _status(client: httpx.AsyncClient, job_id: str) -> str:
    status: str = (await client.get(f"/jobs/{job_id}")).json()["status"]
    return status


async def test_aborted_queued_job_never_starts(
    client: httpx.AsyncClient, redis: RedisClient, run_worker: RunWorker
) -> None:
    job_id = (await client.post("/jobs/wait_for_gate", json={})).json()["id"]
    response = await client.delete(f"/jobs/{job_id}")
    assert response.status_code == 202 and response.json()["status"] == "aborted"
    worker = await run_worker()
    view = (await client.get(f"/jobs/{job_id}")).json()
    assert view["status"] == "aborted" and view["error"]["type"] == "Aborted"
    assert await redis.get(runs_key(job_id)) is None  # the job function never ran
    assert worker.counts["complete"] == 0 and await redis.zcard("arq:queue") == 0


async def test_aborted_deferred_job_never_starts(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    created = await client.post("/jobs/wait_for_gate", params={"defer_by": 60}, json={})
    job_id = created.json()["id"]
    assert created.json()["status"] == "deferred"
    assert (await client.delete(f"/jobs/{job_id}")).status_code == 202
    view = (await client.get(f"/jobs/{job_id}")).json()
    assert view["status"] == "aborted" and view["started_at"] is None  # it never started
    assert view["finished_at"] is not None and view["tries"] == 0
    assert await redis.zscore("arq:queue", job_id) is None
    assert await redis.exists(keys.of_job(job_id).job(job_id)) == 0


async def test_running_job_is_cancelled_and_ends_aborted(
    client: httpx.AsyncClient, redis: RedisClient, background_worker: Worker
) -> None:
    job_id = (await client.post("/jobs/wait_for_gate", json={})).json()["id"]

    async def waiting_at_gate() -> bool:  # in_progress alone: the body may not have begun
        return (await client.get(f"/jobs/{job_id}")).json()["progress"] is not None

    await eventually(waiting_at_gate)
    requested = await client.delete(f"/jobs/{job_id}")
    # The answer waits for the worker's cancel (it watches for abort requests).
    assert requested.status_code == 202 and requested.json()["status"] == "aborted"

    async def aborted() -> bool:
        return await _status(client, job_id) == "aborted"

    await eventually(aborted, timeout_s=5)  # the gate never opens: only a cancel ends it
    view = (await client.get(f"/jobs/{job_id}")).json()
    assert view["error"]["type"] == "Aborted" and view["result"] is None
    assert await redis.get(cancelled_key(job_id)) == b"1"
    assert await redis.zscore(keys.of_job(job_id).abort, job_id) is None  # the request is used up
    assert background_worker.counts["aborted"] == 1
    assert background_worker.counts["complete"] == 0


async def test_abort_of_a_final_job_is_409(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    done = (await client.post("/jobs/ping", json={})).json()["id"]
    await run_worker()
    assert await _status(client, done) == "complete"
    conflict = await client.delete(f"/jobs/{done}")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"]
    aborted = (await client.post("/jobs/ping", json={}, params={"defer_by": 60})).json()["id"]
    assert (await client.delete(f"/jobs/{aborted}")).status_code == 202
    assert (await client.delete(f"/jobs/{aborted}")).status_code == 409
    assert await _status(client, aborted) == "aborted"


async def test_abort_of_an_unknown_job_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.delete("/jobs/nope")).status_code == 404


async def test_job_id_reused_after_an_abort_runs_normally(
    client: httpx.AsyncClient,
    redis: RedisClient,
    settings: Settings,
    background_worker: Worker,
) -> None:
    job_id = "reused-id"
    gate = {"gate": "test:gate:reused"}
    await enqueue(redis, "wait_for_gate", gate, job_id=job_id, settings=settings)

    async def status_is(wanted: str) -> bool:
        return await _status(client, job_id) == wanted

    await eventually(lambda: status_is("in_progress"))
    assert (await client.delete(f"/jobs/{job_id}")).status_code == 202
    await eventually(lambda: status_is("aborted"))
    # While the aborted record lives the id is taken; once it is gone the id is free again.
    taken = await enqueue(redis, "wait_for_gate", gate, job_id=job_id, settings=settings)
    assert taken.outcome == "duplicate"
    await redis.delete(keys.of_job(job_id).result(job_id))  # the aborted record expires
    # A late abort request for the old run (e.g. from a stock ARQ client) is still lying around.
    await redis.zadd(keys.of_job(job_id).abort, {job_id: 1})
    again = await enqueue(redis, "wait_for_gate", gate, job_id=job_id, settings=settings)
    assert again.outcome == "created"
    await eventually(lambda: status_is("in_progress"))
    await background_worker._watch_aborts()  # one abort check while the new run holds the id
    await redis.set("test:gate:reused", "1")
    await eventually(lambda: status_is("complete"))
    view = (await client.get(f"/jobs/{job_id}")).json()
    assert view["tries"] == 1 and view["result"]["tries"] == 1
    assert await redis.get(runs_key(job_id)) == b"2"  # the aborted run and this one


async def test_abort_that_loses_the_race_with_completion_is_409(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings
) -> None:
    """The job completes after the abort request but before its worker saw it: the answer
    says so (409, the final status), not 202 for an abort that never happened."""
    job_id = (await client.post("/jobs/ping", json={})).json()["id"]
    # Claimed by a worker that is about to complete it (no worker process needed).
    q = keys.of_job(job_id)
    claimed = await scripts.script("claim")(
        redis,
        [q.due, q.levels, q.claim("race"), q.paused],
        [q.prefix, 60_000, 10, "w", "race", "0"],
    )
    assert claimed[3].decode() == job_id
    started_ms = int(claimed[2])
    token = LeaseToken("w", started_ms, "race").encode()

    async def complete_once_abort_is_requested() -> None:
        async def flagged() -> bool:
            return await redis.zscore(keys.of_job(job_id).abort, job_id) is not None

        await eventually(flagged)
        data = result_data(
            name="ping",
            args=[{}],
            kwargs={},
            tries=1,
            enqueued_ms=0,
            status="complete",
            result={"message": "ping", "tries": 1, "worker": "w"},
            started_ms=started_ms,
        )
        lost = await scripts.script("finish")(
            redis,
            [q.due, q.failed, q.index],
            [q.prefix, "0", 5_000, "complete", job_id, token, data, 60_000, ""],
        )
        assert lost == [[], []]  # nothing refused, no releases owed

    finishing = asyncio.create_task(complete_once_abort_is_requested())
    response = await client.delete(f"/jobs/{job_id}")
    await finishing
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"status": "complete"}
    assert await _status(client, job_id) == "complete"
    assert (
        await redis.zscore(keys.of_job(job_id).abort, job_id) is None
    )  # the settle used the request up
