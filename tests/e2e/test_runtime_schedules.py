"""Schedules made over the API, run by two real worker processes: each tick once, changes picked
up without a restart, an overlapping tick skipped."""

from itertools import pairwise
from typing import Any

import pytest

from tests.support.jobs_api import JobsApi
from tests.support.processes import Processes
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def _ticks(api: JobsApi, schedule: str) -> dict[int, dict[str, Any]]:
    """Tick ms -> the JobView of the job that tick enqueued (ids are `cron:{name}:{ms}`)."""
    response = await api.client.get("/jobs", params={"name": "ping", "limit": 200})
    assert response.status_code == 200, response.text
    out = {}
    for job in response.json()["jobs"]:
        prefix, _, ms = job["id"].rpartition(":")
        if prefix == f"cron:{schedule}":
            out[int(ms)] = job
    return out


async def _put(api: JobsApi, name: str, body: dict[str, Any], expected: int) -> None:
    response = await api.client.put(f"/schedules/{name}", json=body)
    assert response.status_code == expected, response.text


async def test_two_workers_run_each_tick_of_a_runtime_schedule_once(
    processes: Processes,
) -> None:
    url = await processes.web()
    await processes.worker()
    await processes.worker()
    async with JobsApi(url) as api:
        await _put(api, "each-second", {"job": "ping", "every": 1}, 201)

        async def four_ticks_complete() -> bool:
            ticks = await _ticks(api, "each-second")
            return sum(bool(t["status"] == "complete") for t in ticks.values()) >= 4

        await eventually(four_ticks_complete, timeout_s=30)
        ticks = sorted(await _ticks(api, "each-second"))
        # Every second once: consecutive seconds, none skipped, none twice (ids are unique).
        assert all(b - a == 1000 for a, b in pairwise(ticks)), ticks

        # Paused over the API: no worker enqueues a tick of it any more.
        await _put(api, "each-second", {"job": "ping", "every": 1, "paused": True}, 200)
        paused_at = max(await _ticks(api, "each-second"))
        await _put(api, "marker", {"job": "ping", "every": 1}, 201)

        async def marker_ran_three_times() -> bool:
            return len(await _ticks(api, "marker")) >= 3

        await eventually(marker_ran_three_times, timeout_s=30)
        # A tick already under way when the change landed may still go in; none after it.
        assert max(await _ticks(api, "each-second")) <= paused_at + 1000

        # Changed to another input: the next ticks carry it.
        await _put(api, "marker", {"job": "ping", "input": {"message": "v2"}, "every": 1}, 200)

        async def a_tick_with_the_new_input() -> bool:
            ticks = await _ticks(api, "marker")
            return any(t["input"].get("message") == "v2" for t in ticks.values())

        await eventually(a_tick_with_the_new_input, timeout_s=30)
        # Deleted: its ticks stop as well.
        assert (await api.client.delete("/schedules/marker")).status_code == 204
        deleted_at = max(await _ticks(api, "marker"))
        await _put(api, "witness", {"job": "ping", "every": 1}, 201)

        async def witness_ran_three_times() -> bool:
            return len(await _ticks(api, "witness")) >= 3

        await eventually(witness_ran_three_times, timeout_s=30)
        assert max(await _ticks(api, "marker")) <= deleted_at + 1000


async def test_overlap_skip_enqueues_no_tick_while_the_previous_run_is_not_final(
    processes: Processes,
) -> None:
    url = await processes.web()
    await processes.worker()
    async with JobsApi(url) as api:
        slow = {"job": "ping", "input": {"sleep_s": 3}, "every": 1, "overlap": "skip"}
        await _put(api, "slow", slow, 201)

        async def three_runs_complete() -> bool:
            ticks = await _ticks(api, "slow")
            return sum(bool(t["status"] == "complete") for t in ticks.values()) >= 3

        await eventually(three_runs_complete, timeout_s=60)
        ticks = await _ticks(api, "slow")
        ordered = sorted(ticks)
        # Each run takes 3 s: the ticks while it ran enqueued nothing.
        assert all(b - a >= 3000 for a, b in pairwise(ordered)), ordered
        running = [t for t in ticks.values() if t["status"] in ("queued", "in_progress")]
        assert len(running) <= 1
