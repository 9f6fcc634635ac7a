"""Completion webhooks end to end: jobs enqueued over HTTP with `callback_url` on the real web
process, run by two real worker processes, delivered to a real HTTP receiver started here."""

import json
from typing import Any

import httpx
import pytest

from jobs.webhooks.signing import event_id_for, verify_signature
from tests.support.processes import Processes
from tests.support.waiting import eventually
from tests.support.webhook_receiver import Receiver, webhook_receiver

pytestmark = pytest.mark.e2e

SECRET = "e2e-secret"
# The receiver listens on 127.0.0.1 over http: both allowed here, as the tests do.
WEBHOOKS = {
    "WEBHOOK_SECRET": SECRET,
    "WEBHOOK_ALLOW_HTTP": "true",
    "WEBHOOK_ALLOW_PRIVATE": "true",
    "WEBHOOK_BACKOFF_BASE_S": "0.01",
    "WEBHOOK_BACKOFF_MAX_S": "0.05",
    "JOB_MODULES": "tests.support.jobs.probe_jobs,tests.support.jobs.workflow_jobs",
}


async def stack(processes: Processes, **env: str) -> httpx.AsyncClient:
    """The web process and two workers, all with `WEBHOOKS` (and `env`); a client of the web."""
    url = await processes.web(**WEBHOOKS, **env)
    for _ in range(2):
        await processes.worker(**WEBHOOKS, **env)
    return httpx.AsyncClient(base_url=url, timeout=10)


async def enqueue(
    client: httpx.AsyncClient, name: str, body: dict[str, Any], callback_url: str
) -> dict[str, Any]:
    answer = await client.post(f"/jobs/{name}", json=body, params={"callback_url": callback_url})
    assert answer.status_code == 202, answer.text
    view: dict[str, Any] = answer.json()
    return view


async def attempts(client: httpx.AsyncClient, job_id: str, count: int) -> list[dict[str, Any]]:
    """The job's delivery attempts, once there are `count` of them."""
    found: list[dict[str, Any]] = []

    async def recorded() -> bool:
        nonlocal found
        found = (await client.get(f"/jobs/{job_id}/deliveries")).json()
        return len(found) >= count

    await eventually(recorded, timeout_s=20)
    return found


async def received(receiver: Receiver, count: int) -> None:
    async def arrived() -> bool:
        return len(receiver.requests()) >= count

    await eventually(arrived, timeout_s=20)


async def test_a_job_enqueued_with_a_callback_delivers_its_final_view_signed(
    processes: Processes,
) -> None:
    with webhook_receiver() as receiver:
        async with await stack(processes, WEBHOOK_ALLOWED_PORTS=str(receiver.port)) as client:
            job = await enqueue(client, "numbered", {"n": 7}, receiver.url())
            assert job["status"] == "queued"
            [attempt] = await attempts(client, job["id"], 1)
            final = (await client.get(f"/jobs/{job['id']}")).json()
        [request] = receiver.requests("/hook")
    assert verify_signature(request.body, request.headers["X-Signature"], [SECRET])
    assert not verify_signature(request.body, request.headers["X-Signature"], ["other"])
    assert request.headers["X-Webhook-Id"] == event_id_for(job["id"], receiver.url())
    view = json.loads(request.body)
    assert view["id"] == job["id"] and view["status"] == "complete"
    assert view["result"] == {"n": 7}
    assert view == final  # the final JobView, as GET /jobs/{id} shows it
    assert attempt["outcome"] == "delivered" and attempt["status_code"] == 200


async def test_a_receiver_failing_twice_gets_the_job_on_the_third_attempt(
    processes: Processes,
) -> None:
    with webhook_receiver(answers=[500, 500]) as receiver:
        async with await stack(processes, WEBHOOK_ALLOWED_PORTS=str(receiver.port)) as client:
            job = await enqueue(client, "numbered", {"n": 1}, receiver.url())
            await received(receiver, 3)
            tries = await attempts(client, job["id"], 3)
        requests = receiver.requests()
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in tries] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "delivered", 200),
    ]
    event_id = event_id_for(job["id"], receiver.url())
    assert [r.headers["X-Webhook-Id"] for r in requests] == [event_id] * 3
    assert [r.headers["X-Webhook-Attempt"] for r in requests] == ["1", "2", "3"]
    assert all(verify_signature(r.body, r.headers["X-Signature"], [SECRET]) for r in requests)


async def test_a_failed_job_still_delivers_its_view(processes: Processes) -> None:
    with webhook_receiver() as receiver:
        async with await stack(processes, WEBHOOK_ALLOWED_PORTS=str(receiver.port)) as client:
            job = await enqueue(client, "numbered", {"n": 2, "fail": True}, receiver.url())
            await attempts(client, job["id"], 1)
        [request] = receiver.requests()
    view = json.loads(request.body)
    assert view["id"] == job["id"] and view["status"] == "failed"
    assert view["error"]["type"] == "JobFailed"
    assert verify_signature(request.body, request.headers["X-Signature"], [SECRET])


PRIVATE_OR_PLAIN = [
    "https://10.0.0.7/hook",
    "https://127.0.0.1/hook",
    "https://[::1]/hook",
    "https://169.254.169.254/latest/meta-data",
    "http://hooks.example.com/hook",
]


async def test_a_private_address_is_refused_at_enqueue_by_default(processes: Processes) -> None:
    # The web process with the defaults: https only, no private addresses.
    base = await processes.web(WEBHOOK_SECRET=SECRET)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for url in PRIVATE_OR_PLAIN:
            for path, body in (("/jobs/ping", {}), ("/jobs/ping/bulk", [{}, {}])):
                answer = await client.post(path, json=body, params={"callback_url": url})
                assert answer.status_code == 422, (url, answer.text)
                error = answer.json()["error"]
                assert error["code"] == "callback_refused"
                assert "WEBHOOK_ALLOW_" in error["message"]
        listed = (await client.get("/jobs")).json()
    assert listed["jobs"] == []  # nothing enqueued
