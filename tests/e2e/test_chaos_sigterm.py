"""Chaos: SIGTERM to a worker with many jobs in flight.

It exits 0 within its grace (plus a little); jobs that finish within the grace are its, the
ones that do not are re-queued, and a second worker runs them and the rest. No try is burned.
"""

import pytest

from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.job_events import job_events
from tests.support.jobs_api import JobsApi
from tests.support.load import enqueue_each
from tests.support.processes import Processes, exit_code, sigterm
from tests.support.report import report
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

GRACE_S = 1
SHORT, SHORT_S = 180, 0.3
"""Finish well within the grace."""
LONG, LONG_S = 20, 3.0
"""Outlive the grace: cancelled and re-queued at shutdown."""


async def test_sigterm_under_load_exits_cleanly_and_burns_no_try(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    url = await processes.web()
    first = await processes.worker(SHUTDOWN_GRACE_S=str(GRACE_S))
    async with job_events(redis) as events, JobsApi(url) as api:
        # The long ones first: they are claimed in the first batch.
        long_ids = await enqueue_each(redis, "ping", [{"sleep_s": LONG_S}] * LONG, settings)
        short_ids = await enqueue_each(redis, "ping", [{"sleep_s": SHORT_S}] * SHORT, settings)
        ids = long_ids + short_ids

        async def loaded() -> bool:
            return set(long_ids) <= events.started and len(events.started) >= 100

        await eventually(loaded)
        sigterm(first.process)
        assert await exit_code(first.process, timeout_s=GRACE_S + 10) == 0
        started_on_first = set(events.started)

        second = await processes.worker()

        async def all_complete() -> bool:
            views = await api.listed("ping")
            return all(i in views and views[i]["status"] == "complete" for i in ids)

        await eventually(all_complete, timeout_s=30, interval_s=0.1)
        views = await api.listed("ping")

    by_first = [i for i in ids if views[i]["worker"] == first.worker_id]
    report(
        "SIGTERM under load",
        jobs=len(ids),
        started_before_exit=len(started_on_first),
        finished_by_first=len(by_first),
        requeued_long=sum(views[i]["worker"] == second.worker_id for i in long_ids),
        grace_s=GRACE_S,
    )
    assert {i: views[i]["tries"] for i in ids if views[i]["tries"] != 1} == {}
    # Short jobs it had started finished within the grace; the long ones were handed back.
    for job_id in short_ids:
        expected = first if job_id in started_on_first else second
        assert views[job_id]["worker"] == expected.worker_id, (job_id, views[job_id])
    for job_id in long_ids:
        assert views[job_id]["worker"] == second.worker_id, (job_id, views[job_id])
        assert views[job_id]["result"]["tries"] == 1
    assert second.process.poll() is None
