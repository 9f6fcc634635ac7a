"""A job that blocks its worker's event loop past its lease breaks no invariant (issue 18).

An `async def` job that calls `time.sleep` freezes the worker's loop: no lease is renewed, no
abort is heard, no other try advances. When the loop runs again every lease it held has run
out. Whatever the blocked tries then do, these hold, checked on a real worker process
(`LEASE_S=2`, blocks of 2.5 leases):

- `tries` never exceeds `max_tries` in a job's record;
- a try that lost its lease is never counted complete (worker heartbeat, `/metrics`);
- an abort requested while the worker was stalled ends the job `aborted`; no try starts after;
- a job is never left `in_progress` without a live try (every job reaches a final state);
- the short job's body ran once per try its record counts.
"""

from typing import Any

import pytest

from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.jobs.stall_jobs import runs_key
from tests.support.jobs_api import JobsApi
from tests.support.load import enqueue_each
from tests.support.metrics import metric_samples
from tests.support.processes import Processes, WorkerProcess
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

STALL_ENV = {
    "JOB_MODULES": "tests.support.jobs.stall_jobs",
    "CRON_ENABLED": "false",
    "HOUSEKEEPING": "false",  # its jobs would count in the totals compared below
}
BLOCK_S = 5.0
"""Each blocking try holds the loop for 2.5 leases (LEASE_S=2): every lease it held runs out."""
MAX_TRIES = {"block_loop": 5, "thread_report": 5, "send_notice": 3}
FINAL = ("complete", "failed", "aborted")


async def _runs(redis: RedisClient, job_id: str) -> list[int]:
    """The tries of `job_id` whose body ran, in order."""
    return [int(t) for t in await redis.lrange(runs_key(job_id), 0, -1)]  # type: ignore[misc]


async def _outcomes(api: JobsApi) -> dict[tuple[str, str], float]:
    """`jobsvc_jobs_total` by (job, outcome), as `/metrics` reports it."""
    samples = await metric_samples(api.client)
    return {
        (dict(labels)["job"], dict(labels)["outcome"]): value
        for (name, labels), value in samples.items()
        if name == "jobsvc_jobs_total"
    }


async def _all_final(api: JobsApi, job_ids: list[str], timeout_s: float) -> dict[str, Any]:
    views: dict[str, Any] = {}

    async def final() -> bool:
        views.update(await api.views(job_ids))
        for view in views.values():
            assert view["tries"] <= view["max_tries"], view
        return all(view["status"] in FINAL for view in views.values())

    await eventually(final, timeout_s=timeout_s, interval_s=0.1)
    return views


async def _counted(
    processes: Processes, worker: WorkerProcess, api: JobsApi, views: dict[str, Any]
) -> None:
    """The worker's counts and `/metrics` say what the records say: one outcome per job."""
    expected: dict[tuple[str, str], float] = {}
    for view in views.values():
        key = (view["name"], view["status"])
        expected[key] = expected.get(key, 0) + 1
    per_status = {s: sum(1 for v in views.values() if v["status"] == s) for s in FINAL}
    seen: dict[str, Any] = {}

    async def flushed() -> bool:
        outcomes = await _outcomes(api)
        seen["metrics"] = {k: v for k, v in outcomes.items() if k[1] in FINAL and v}
        beat = await processes.heartbeat(worker)
        seen["heartbeat"] = {s: beat.get(s) for s in FINAL}
        return seen == {"metrics": expected, "heartbeat": per_status}

    try:
        await eventually(flushed, timeout_s=10, interval_s=0.1)
    except AssertionError:
        assert seen == {"metrics": expected, "heartbeat": per_status}


async def test_a_blocked_loop_breaks_no_invariant_of_the_jobs_it_held(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    url = await processes.web(**STALL_ENV)
    # Enqueued before the worker starts: its first claim takes all three, so the short job
    # and the thread job are running when the blocking one stalls the loop.
    notice, report, blocker = await _enqueue(redis, settings, blocking_tries=2)
    worker = await processes.worker(**STALL_ENV)
    async with JobsApi(url) as api:
        views = await _all_final(api, [notice, report, blocker], timeout_s=60)
        for job_id, view in views.items():
            runs = await _runs(redis, job_id)
            assert len(runs) == len(set(runs)), (view, runs)  # no try's body ran twice
            assert len(runs) <= view["tries"] <= MAX_TRIES[view["name"]], (view, runs)
        assert views[blocker]["status"] == "complete", views[blocker]
        assert await _runs(redis, blocker) == [1, 2, 3]
        await _counted(processes, worker, api, views)


async def test_an_abort_requested_while_the_loop_was_blocked_ends_the_job_aborted(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    url = await processes.web(**STALL_ENV)
    worker = await processes.worker(**STALL_ENV)
    notice, report, blocker = await _enqueue(redis, settings, blocking_tries=5)
    async with JobsApi(url) as api:

        async def blocking() -> bool:
            return await _runs(redis, blocker) == [1]

        await eventually(blocking, timeout_s=10)
        # The try holds the loop now, and its lease is fresh: the abort is flagged for it (the
        # answer waits a little for the worker, which may honour it meanwhile).
        response = await api.client.delete(f"/jobs/{blocker}")
        assert response.status_code == 202, response.text
        answer = response.json()
        assert answer["abort_requested"] or answer["status"] == "aborted", answer

        views = await _all_final(api, [notice, report, blocker], timeout_s=60)
        assert views[blocker]["status"] == "aborted", views[blocker]
        assert views[blocker]["error"]["type"] == "Aborted"
        assert await _runs(redis, blocker) == [1]  # no try started after the abort
        await _counted(processes, worker, api, views)


async def _enqueue(redis: RedisClient, settings: Settings, blocking_tries: int) -> list[str]:
    [notice] = await enqueue_each(redis, "send_notice", [{}], settings)
    [report] = await enqueue_each(redis, "thread_report", [{"seconds": 1.0}], settings)
    [blocker] = await enqueue_each(
        redis, "block_loop", [{"block_s": BLOCK_S, "blocking_tries": blocking_tries}], settings
    )
    return [notice, report, blocker]


async def test_a_loop_blocked_on_every_try_never_shows_more_tries_than_allowed(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    """Each claim takes the blocker with the others, and each of its tries blocks the loop:
    the short job's claims past its last try fail it at once, but a stall keeps that settle
    from being stored within its lease, so it is claimed again. The record still counts only
    the tries that could run, and its body ran once per counted try."""
    url = await processes.web(**STALL_ENV)
    notice, report, blocker = await _enqueue(redis, settings, blocking_tries=5)
    worker = await processes.worker(**STALL_ENV)
    async with JobsApi(url) as api:
        views = await _all_final(api, [notice, report, blocker], timeout_s=90)
        for job_id, view in views.items():
            runs = await _runs(redis, job_id)
            assert len(runs) == len(set(runs)), (view, runs)
            assert len(runs) <= view["tries"] <= MAX_TRIES[view["name"]], (view, runs)
        await _counted(processes, worker, api, views)
