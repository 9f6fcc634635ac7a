"""`POST /jobs/abort` and `POST /jobs/retry`: many jobs by filter, bounded per call, resumable."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobs.layout.connection import RedisClient
from tests.support.waiting import eventually
from tests.support.workers import RunWorker

HOUR = {"defer_by": 3600}


async def _enqueue(client: httpx.AsyncClient, name: str, n: int, **params: Any) -> list[str]:
    ids = []
    for _ in range(n):
        response = await client.post(f"/jobs/{name}", params=params, json={})
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids


async def _statuses(client: httpx.AsyncClient, ids: list[str]) -> set[str]:
    return {(await client.get(f"/jobs/{job_id}")).json()["status"] for job_id in ids}


async def _act(client: httpx.AsyncClient, action: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/jobs/{action}", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_abort_by_name_counts_first_then_aborts_only_those(
    client: httpx.AsyncClient,
) -> None:
    pings = await _enqueue(client, "ping", 5, **HOUR)
    others = await _enqueue(client, "always_permanent", 3, **HOUR)

    dry = await _act(client, "abort", {"name": "ping", "dry_run": True})
    assert (dry["count"], dry["next_cursor"]) == (5, None)
    assert await _statuses(client, pings) == {"deferred"}  # a dry run changes nothing

    done = await _act(client, "abort", {"name": "ping"})
    assert (done["count"], done["skipped"], done["next_cursor"]) == (5, 0, None)
    assert await _statuses(client, pings) == {"aborted"}
    assert await _statuses(client, others) == {"deferred"}
    # Nothing left to abort: 0, not an error.
    assert (await _act(client, "abort", {"name": "ping"}))["count"] == 0


async def test_abort_goes_on_from_its_cursor_until_none_is_left(
    client: httpx.AsyncClient,
) -> None:
    ids = await _enqueue(client, "ping", 25, **HOUR)
    counts, cursor = [], None
    while True:
        done = await _act(client, "abort", {"status": ["deferred"], "limit": 10, "cursor": cursor})
        counts.append(done["count"])
        cursor = done["next_cursor"]
        if cursor is None:
            break
        assert len(counts) < 10
    assert sum(counts) == 25 and max(counts) == 10
    assert await _statuses(client, ids) == {"aborted"}


async def test_abort_by_enqueue_time_takes_only_jobs_in_the_range(
    client: httpx.AsyncClient, redis: RedisClient
) -> None:
    older = await _enqueue(client, "ping", 3, **HOUR)
    seconds, micros = await redis.time()
    boundary_ms = seconds * 1000 + micros // 1000 + 1

    async def server_clock_passed() -> bool:
        now_s, now_us = await redis.time()
        return bool(now_s * 1000 + now_us // 1000 >= boundary_ms)

    await eventually(server_clock_passed)
    newer = await _enqueue(client, "ping", 2, **HOUR)
    since = datetime.fromtimestamp(boundary_ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
    done = await _act(client, "abort", {"created_after": since})
    assert done["count"] == 2
    assert await _statuses(client, newer) == {"aborted"}
    assert await _statuses(client, older) == {"deferred"}
    done = await _act(client, "abort", {"created_before": since, "name": "ping"})
    assert done["count"] == 3
    assert await _statuses(client, older) == {"aborted"}


async def test_retry_by_name_retries_each_failed_job_once(
    client: httpx.AsyncClient, run_worker: RunWorker
) -> None:
    failing = await _enqueue(client, "always_permanent", 3)
    await _enqueue(client, "ping", 2)
    await run_worker()
    assert await _statuses(client, failing) == {"failed"}

    assert (await _act(client, "retry", {"name": "always_permanent", "dry_run": True}))[
        "count"
    ] == 3
    done = await _act(client, "retry", {"name": "always_permanent"})
    assert (done["count"], done["skipped"]) == (3, 0)
    # They left the failed list: a second call finds nothing.
    assert (await _act(client, "retry", {"name": "always_permanent"}))["count"] == 0
    queued = await client.get("/jobs", params={"name": "always_permanent", "status": "queued"})
    assert len(queued.json()["jobs"]) == 3


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("abort", {}),  # no criterion: never "every job"
        ("abort", {"limit": 10, "dry_run": True}),
        ("retry", {}),
        ("abort", {"status": ["failed"]}),  # not a state abort acts on
        ("retry", {"status": ["queued"]}),
        ("abort", {"status": []}),
        ("abort", {"name": "ping", "limit": 1001}),
        ("abort", {"name": "ping", "cursor": "not a cursor"}),
        ("abort", {"created_after": "yesterday"}),
        ("abort", {"name": "ping", "every": True}),  # unknown field
    ],
)
async def test_a_filter_the_service_cannot_take_is_a_422(
    client: httpx.AsyncClient, action: str, body: dict[str, Any]
) -> None:
    await _enqueue(client, "ping", 1, **HOUR)
    response = await client.post(f"/jobs/{action}", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    dry = await _act(client, "abort", {"name": "ping", "dry_run": True})
    assert dry["count"] == 1  # nothing was aborted


def test_a_job_named_like_a_bulk_route_is_refused_at_start() -> None:
    # In a process of its own: the declaration would stay in this one's catalog.
    env = {**os.environ, "JOB_MODULES": "tests.support.jobs.named_retry"}
    started = subprocess.run(
        [sys.executable, "-c", "from service.main import create_app; create_app()"],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert started.returncode != 0
    assert "'retry' is a route of the job API" in started.stderr


async def test_a_queue_nothing_declares_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/jobs/abort", json={"queue": "never-declared-7"})
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "queue_not_found"
