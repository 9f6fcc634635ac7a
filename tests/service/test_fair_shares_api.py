"""Fair shares over HTTP: weights per key (`PUT`/`GET /queues/{q}/fair-weights`), the
`fair_key` enqueue option, the keys waiting in `/queues` and `/metrics`, abort of a job in a
lane."""

import httpx

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_job
from tests.support.workers import RunWorker, starts


async def _queue(client: httpx.AsyncClient, name: str) -> dict[str, object]:
    answer = await client.get("/queues")
    assert answer.status_code == 200, answer.text
    return next(q for q in answer.json() if q["name"] == name)


async def test_weights_are_set_listed_reset_and_checked(client: httpx.AsyncClient) -> None:
    base = f"/queues/{keys.DEFAULT_QUEUE}/fair-weights"
    assert (await client.get(base)).json() == {"weights": {}}
    put = await client.put(f"{base}/acme", json={"weight": 3})
    assert put.status_code == 200 and put.json() == {"weight": 3}
    assert (await client.put(f"{base}/zeta", json={"weight": 2})).status_code == 200
    assert (await client.get(base)).json() == {"weights": {"acme": 3, "zeta": 2}}
    assert (await client.put(f"{base}/zeta", json={"weight": 1})).status_code == 200
    assert (await client.get(base)).json() == {"weights": {"acme": 3}}
    for bad in ({"weight": 0}, {"weight": 1001}, {"weight": "x"}, {}):
        answer = await client.put(f"{base}/acme", json=bad)
        assert answer.status_code == 422, (bad, answer.text)
    assert (
        await client.put("/queues/nowhere/fair-weights/a", json={"weight": 2})
    ).status_code == 404
    assert (await client.get("/queues/nowhere/fair-weights")).status_code == 404


async def test_fair_keys_waiting_show_in_queues_and_metrics_and_lanes_abort(
    client: httpx.AsyncClient, redis: RedisClient, run_worker: RunWorker
) -> None:
    ids = []
    for tenant in ("a", "b", "c"):
        for n in range(2):
            answer = await client.post(
                "/jobs/record_start", params={"fair_key": tenant}, json={"label": f"{tenant}{n}"}
            )
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["id"])
    figures = await _queue(client, keys.DEFAULT_QUEUE)
    assert (figures["queued"], figures["fair_keys"]) == (6, 3)
    assert (await client.get(f"/jobs/{ids[1]}")).json()["status"] == "queued"
    listed = (await client.get("/jobs", params={"status": "queued"})).json()
    assert {j["id"] for j in listed["jobs"]} == set(ids)
    metrics = (await client.get("/metrics")).text
    assert f'jobsvc_queue_fair_keys{{queue="{keys.DEFAULT_QUEUE}"}} 3.0' in metrics
    assert (await client.delete(f"/jobs/{ids[0]}")).status_code == 202
    assert (await _queue(client, keys.DEFAULT_QUEUE))["queued"] == 5
    await run_worker(worker_concurrency=1, claim_batch=1)
    assert await starts(redis) == ["a1", "b0", "c0", "b1", "c1"]
    record = await load_job(redis, ids[0], {"record_start": 3})
    assert record is not None and record.status is JobStatus.aborted
    assert (await _queue(client, keys.DEFAULT_QUEUE))["fair_keys"] == 0
