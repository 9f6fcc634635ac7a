"""Chaos: a worker paused (SIGSTOP) past its lease and then resumed cannot store a result.

Another worker claims the job when the lease runs out. The paused try blocks its worker's
event loop from its first Redis reply to its end, so after SIGCONT it returns before that
worker hears anything from Redis (such as a renewal saying the lease is gone): it always
tries to store its outcome. The settle is fenced by the lease token: the worker logs "lease
lost", touches nothing of the new owner (its lease, its state), and the one stored result is
the new owner's.
"""

import os
import signal

import pytest

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.job_events import job_events
from tests.support.jobs.probe_jobs import run_log_key, try_gate
from tests.support.jobs_api import JobsApi
from tests.support.load import enqueue_each
from tests.support.processes import Processes
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

GATE = "test:gate:sigstop"
RUN = {"stall_try_1_s": 1.5, "gate": GATE, "gated_from_try": 2}
"""Try 1 stalls (time enough to stop its worker in the middle) and ends; try 2, the new
owner's, waits for its gate: the test says when it may finish."""


async def test_worker_paused_past_its_lease_cannot_store_a_result_when_resumed(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    url = await processes.web()
    paused = await processes.worker()  # LEASE_S=2
    async with job_events(redis) as events, JobsApi(url) as api:
        [job_id] = await enqueue_each(redis, "record_run", [RUN], settings)

        async def ran_by(*workers: str) -> bool:
            log = await redis.lrange(run_log_key(job_id), 0, -1)  # type: ignore[misc]
            return [w.decode() for w in log] == list(workers)

        await eventually(lambda: ran_by(paused.worker_id))
        os.kill(paused.pid, signal.SIGSTOP)
        try:
            owner = await processes.worker()
            # The lease runs out; the new owner claims the job and its try 2 begins.
            await eventually(lambda: ran_by(paused.worker_id, owner.worker_id), timeout_s=20)
            view = await api.view(job_id)
            assert (view["status"], view["worker"], view["tries"]) == (
                "in_progress",
                owner.worker_id,
                2,
            )
        finally:
            os.kill(paused.pid, signal.SIGCONT)

        log = processes.log_of(paused)

        async def paused_try_settled() -> bool:
            return "lease lost" in log.read_text() or job_id in events.finished

        await eventually(paused_try_settled, timeout_s=15)
        assert events.finished[job_id] == 0, "the resumed worker stored a result"
        view = await api.view(job_id)
        # The new owner's lease and state are intact: still its running try 2.
        assert (view["status"], view["worker"], view["tries"]) == (
            "in_progress",
            owner.worker_id,
            2,
        )

        await redis.set(try_gate(GATE, 2), "1")

        async def complete() -> bool:
            view = await api.view(job_id)
            return view["status"] == "complete" and job_id in events.finished

        await eventually(complete)
        done = await api.view(job_id)
        assert done["worker"] == owner.worker_id
        assert done["result"] == {"tries": 2, "worker": owner.worker_id}
        assert events.finished[job_id] == 1
    assert await redis.zscore(keys.of_job(job_id).failed, job_id) is None
    assert await redis.exists(keys.of_job(job_id).lease(job_id)) == 0

    # The resumed worker lives on: it beats again and holds nothing.
    async def beating_idle() -> bool:
        assert paused.process.poll() is None, "the resumed worker exited"
        return (await processes.heartbeat(paused)).get("running") == 0

    await eventually(beating_idle)
    assert "lease lost" in log.read_text()
    assert owner.process.poll() is None
