"""A job declared on its own queue is enqueued, read, listed, aborted and retried there."""

import httpx
import pytest

from jobs.enqueue.plan import UnknownJobName
from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.workers import RunWorker


async def test_job_of_another_queue_is_followed_on_its_own_queue(
    client: httpx.AsyncClient, redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    by_name = await enqueue(redis, "on_emails_queue", {}, settings=settings)
    over_http = (await client.post("/jobs/on_emails_queue", json={})).json()
    emails = keys.queue("emails")
    for job_id in (by_name.job_id, over_http["id"]):
        assert job_id.endswith("@emails")  # the id names its queue
        assert await redis.zscore(emails.due, job_id) is not None
        assert await redis.zscore(settings.queue_name, job_id) is None
        view = (await client.get(f"/jobs/{job_id}")).json()
        assert view["status"] == "queued" and view["queue"] == "emails"
    listed = (await client.get("/jobs", params={"status": "queued"})).json()["jobs"]
    assert {j["id"] for j in listed} == {by_name.job_id, over_http["id"]}

    aborted = await client.delete(f"/jobs/{by_name.job_id}")
    assert aborted.status_code == 202 and aborted.json()["status"] == "aborted"
    assert await redis.zscore(emails.due, by_name.job_id) is None  # gone from its real queue
    retried = (await client.post(f"/jobs/{by_name.job_id}/retry")).json()
    assert retried["queue"] == "emails" and await redis.zscore(emails.due, retried["id"])

    await run_worker()  # serves the default queue only: leaves both untouched
    assert (await client.get(f"/jobs/{retried['id']}")).json()["status"] == "queued"
    await run_worker(queue_name="emails")
    for job_id in (retried["id"], over_http["id"]):
        view = (await client.get(f"/jobs/{job_id}")).json()
        assert view["status"] == "complete" and view["queue"] == "emails"


async def test_enqueue_by_an_undeclared_name_raises_and_queues_nothing(
    redis: RedisClient, settings: Settings
) -> None:
    with pytest.raises(UnknownJobName, match="send_emial"):
        await enqueue(redis, "send_emial", {}, settings=settings)
    assert await redis.dbsize() == 0
