"""Unique jobs, debounce, expiry, held jobs' views and pinned queues, over HTTP against the
real web process and two real worker processes (tests/support/jobs/flow_jobs.py's jobs).

Where a job must not start yet, its queue is paused (`POST /queues/{name}/pause`) rather
than raced against a worker.
"""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from tests.support.flow_records import count, server_us, spans
from tests.support.processes import Processes
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

FLOW_ENV = {
    "JOB_MODULES": "tests.support.jobs.flow_jobs",
    "WORKER_CONCURRENCY": "10",
    # A shipped schedule ticking mid-test (heartbeat_report, every minute) would add a job the
    # listing checks do not expect: it failed a run whose test crossed 14:00:00.
    "CRON_ENABLED": "false",
    "HOUSEKEEPING": "false",
}
QUEUE = keys.DEFAULT_QUEUE
"""The queue the flow test jobs are declared on (the default one)."""


@pytest.fixture
async def http(processes: Processes) -> AsyncIterator[httpx.AsyncClient]:
    """The web process and two workers; a client of the web process."""
    url = await processes.web(**FLOW_ENV)
    for _ in range(2):
        await processes.worker(**FLOW_ENV)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield client


async def _pause(http: httpx.AsyncClient, paused: bool = True) -> None:
    action = "pause" if paused else "resume"
    answer = await http.post(f"/queues/{QUEUE}/{action}")
    assert answer.status_code == 204, answer.text


async def _final(http: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    answer = await http.get(f"/jobs/{job_id}", params={"wait": 20})
    assert answer.status_code == 200, answer.text
    view: dict[str, Any] = answer.json()
    assert view["status"] in ("complete", "failed", "aborted"), view
    return view


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


async def test_unique_answers_the_first_job_checks_the_idempotency_key_first_and_retries(
    http: httpx.AsyncClient,
) -> None:
    await _pause(http)
    first = await http.post("/jobs/unique_by_input", json={"label": "a", "fail": True})
    assert first.status_code == 202, first.text
    job = first.json()
    again = await http.post("/jobs/unique_by_input", json={"label": "a", "fail": True})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == job["id"] and again.json()["status"] == "queued"
    assert again.headers["Location"] == f"/jobs/{job['id']}"
    other = await http.post("/jobs/unique_by_input", json={"label": "b"})
    assert other.status_code == 202 and other.json()["id"] != job["id"]

    # An Idempotency-Key is looked at first: a new key with an equal input still finds the
    # unique job (and is not recorded, since nothing was created) ...
    keyed = {"Idempotency-Key": "k-1"}
    equal = await http.post(
        "/jobs/unique_by_input", json={"label": "a", "fail": True}, headers=keyed
    )
    assert equal.status_code == 200 and equal.json()["id"] == job["id"], equal.text
    # ... the key then names a new job; reused with the unique job's input it is a conflict,
    # although uniqueness alone would have answered with that job.
    created = await http.post("/jobs/unique_by_input", json={"label": "c"}, headers=keyed)
    assert created.status_code == 202, created.text
    replay = await http.post("/jobs/unique_by_input", json={"label": "c"}, headers=keyed)
    assert replay.status_code == 200 and replay.json()["id"] == created.json()["id"]
    conflict = await http.post(
        "/jobs/unique_by_input", json={"label": "a", "fail": True}, headers=keyed
    )
    assert conflict.status_code == 409, conflict.text

    await _pause(http, paused=False)
    failed = await _final(http, job["id"])
    assert failed["status"] == "failed" and failed["error"]["type"] == "JobFailed"
    # Final: the lock is gone, so an equal enqueue is a new job; so is a retry over HTTP.
    await _pause(http)
    retried = await http.post(f"/jobs/{job['id']}/retry")
    assert retried.status_code == 202, retried.text
    retry_id = retried.json()["id"]
    assert retry_id != job["id"] and retried.json()["input"]["label"] == "a"
    equal_after = await http.post("/jobs/unique_by_input", json={"label": "a", "fail": True})
    assert equal_after.status_code == 200 and equal_after.json()["id"] == retry_id


async def test_unique_for_per_enqueue_over_http(http: httpx.AsyncClient) -> None:
    await _pause(http)
    body = {"label": "x", "customer": "k"}
    first = await http.post("/jobs/one_per_customer", params={"unique_for": 30}, json=body)
    again = await http.post("/jobs/one_per_customer", params={"unique_for": 30}, json=body)
    plain = await http.post("/jobs/one_per_customer", json=body)
    assert first.status_code == 202 and again.status_code == 200 and plain.status_code == 202
    assert again.json()["id"] == first.json()["id"] != plain.json()["id"]


async def test_debounce_answers_the_updated_job_and_runs_it_once_with_the_last_input(
    http: httpx.AsyncClient, redis: RedisClient
) -> None:
    await _pause(http)
    first = await http.post("/jobs/debounced", json={"label": "a", "customer": "c"})
    assert first.status_code == 202, first.text
    job = first.json()
    updated = None
    for label in ("b", "c"):
        answer = await http.post("/jobs/debounced", json={"label": label, "customer": "c"})
        assert answer.status_code == 200, answer.text
        assert answer.headers["Location"] == f"/jobs/{job['id']}"
        updated = answer.json()
        assert updated["id"] == job["id"] and updated["input"]["label"] == label
    assert updated is not None
    assert _ms(updated["scheduled_for"]) > _ms(job["scheduled_for"])
    # Another customer is another job.
    other = await http.post("/jobs/debounced", json={"label": "z", "customer": "d"})
    assert other.status_code == 202 and other.json()["id"] != job["id"]
    await _pause(http, paused=False)
    done = await _final(http, job["id"])
    assert done["status"] == "complete" and done["result"] == {"label": "c"}
    assert done["tries"] == 1
    await _final(http, other.json()["id"])
    assert sorted(s.label for s in await spans(redis)) == ["c", "z"]  # once each


async def test_a_job_not_started_by_its_expiry_fails_expired_and_never_runs(
    http: httpx.AsyncClient, redis: RedisClient
) -> None:
    await _pause(http)
    per_enqueue = await http.post(
        "/jobs/unique_by_input", params={"expires_in": 0.2}, json={"label": "late"}
    )
    declared = await http.post("/jobs/expires_soon", json={"label": "late too"})
    at = await http.post(
        "/jobs/three_at_a_time",
        params={"expires_at": "2000-01-01T00:00:00Z"},
        json={"label": "long gone"},
    )
    views = [a.json() for a in (per_enqueue, declared, at)]
    assert [a.status_code for a in (per_enqueue, declared, at)] == [202] * 3
    assert all(v["expires_at"] for v in views), views
    latest = max(_ms(v["expires_at"]) for v in views)

    async def past_expiry() -> bool:
        return await server_us(redis) // 1000 > latest

    await eventually(past_expiry)
    await _pause(http, paused=False)
    for view in views:
        final = await _final(http, view["id"])
        assert final["status"] == "failed", final
        assert final["error"]["type"] == "Expired" and not final["error"]["retryable"]
        assert final["started_at"] is None and final["tries"] == 0
    assert await count(redis) == 0  # none of them ran
    # The unique job's lock went with it: an equal input is a new job.
    again = await http.post("/jobs/unique_by_input", json={"label": "late"})
    assert again.status_code == 202 and again.json()["id"] != views[0]["id"]


async def test_an_expired_job_held_at_a_full_gate_frees_the_slot_it_was_given(
    http: httpx.AsyncClient, redis: RedisClient
) -> None:
    long = [
        (await http.post("/jobs/three_at_a_time", json={"label": f"l{i}", "hold_s": 1.0})).json()
        for i in range(3)
    ]

    async def three_running() -> bool:
        return await count(redis, "test:flow:starts") == 3

    await eventually(three_running)
    expiring = await http.post(
        "/jobs/three_at_a_time", params={"expires_in": 0.1}, json={"label": "x"}
    )
    after = await http.post("/jobs/three_at_a_time", json={"label": "after"})
    assert expiring.status_code == 202 and after.status_code == 202
    expired = await _final(http, expiring.json()["id"])
    assert expired["error"]["type"] == "Expired" and expired["tries"] == 0
    done = await _final(http, after.json()["id"])
    assert done["status"] == "complete"
    for view in long:
        assert (await _final(http, view["id"]))["status"] == "complete"
    assert sorted(s.label for s in await spans(redis)) == ["after", "l0", "l1", "l2"]


async def test_held_jobs_say_what_they_wait_for(
    http: httpx.AsyncClient, redis: RedisClient
) -> None:
    running = [
        (await http.post("/jobs/three_at_a_time", json={"label": f"r{i}", "hold_s": 1.5})).json()
        for i in range(3)
    ]
    held = (await http.post("/jobs/three_at_a_time", json={"label": "held"})).json()
    seen: dict[str, Any] = {}

    async def waiting(job_id: str, reason: str) -> bool:
        seen.update((await http.get(f"/jobs/{job_id}")).json())
        return seen.get("waiting_for") == reason

    await eventually(lambda: waiting(held["id"], "concurrency"))
    assert seen["status"] == "queued" and seen["waiting_until"] is None
    # A held job aborted leaves its gate at once and never runs; the others are not stuck.
    dropped = (await http.post("/jobs/three_at_a_time", json={"label": "dropped"})).json()
    await eventually(lambda: waiting(dropped["id"], "concurrency"))
    assert (await http.delete(f"/jobs/{dropped['id']}")).status_code == 202
    aborted = await _final(http, dropped["id"])
    assert aborted["status"] == "aborted" and aborted["started_at"] is None
    for view in (*running, held):
        final = await _final(http, view["id"])
        assert final["status"] == "complete" and final["waiting_for"] is None

    # 40 at 20/s: the last is admitted about 2 s after the first, held until then.
    answer = await http.post(
        "/jobs/twenty_a_second/bulk", json=[{"label": str(i)} for i in range(40)]
    )
    assert answer.status_code == 202, answer.text
    last = answer.json()["jobs"][-1]
    await eventually(lambda: waiting(last["id"], "rate_limit"))
    assert seen["status"] == "queued" and seen["waiting_until"] is not None
    assert _ms(seen["waiting_until"]) > _ms(last["enqueued_at"])
    final = await _final(http, last["id"])
    assert final["status"] == "complete" and final["waiting_for"] is None
    assert "dropped" not in {s.label for s in await spans(redis)}


async def test_a_queue_override_for_a_limited_job_is_422_and_enqueues_nothing(
    http: httpx.AsyncClient, redis: RedisClient
) -> None:
    for path, body in (
        ("/jobs/three_at_a_time", {"label": "a"}),
        ("/jobs/three_at_a_time/bulk", [{"label": "a"}]),
        ("/jobs/unique_by_input", {"label": "a"}),
        ("/jobs/debounced", {"label": "a", "customer": "c"}),
    ):
        answer = await http.post(path, params={"queue": "elsewhere"}, json=body)
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "queue_pinned" and QUEUE in error["message"], error
    assert await redis.keys(keys.queue("elsewhere").prefix + "*") == []
    assert (await http.get("/jobs")).json()["jobs"] == []
    # Its own queue, named, is fine.
    ok = await http.post("/jobs/three_at_a_time", params={"queue": QUEUE}, json={"label": "b"})
    assert ok.status_code == 202, ok.text
