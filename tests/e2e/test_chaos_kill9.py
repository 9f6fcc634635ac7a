"""Chaos: kill -9 of one of two workers under a few thousand jobs.

Nothing is lost (every job ends complete), no result is stored twice, and only jobs the killed
worker held run again, once its leases run out.
"""

import asyncio
import os
import signal
import time

import pytest

from jobs.layout.connection import RedisClient
from settings import Settings
from tests.support.job_events import job_events
from tests.support.jobs.probe_jobs import run_log_key
from tests.support.jobs_api import JobsApi
from tests.support.load import enqueue_each
from tests.support.processes import BASE_ENV, Processes, exit_code
from tests.support.report import report
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

JOBS = 3000
SLEEP_S = 0.05
"""Each job takes a little while, so both workers run a full set of jobs at the kill."""


async def _run_logs(redis: RedisClient, job_ids: list[str]) -> dict[str, list[str]]:
    """Per job, the workers that started its tries (probe job `record_run`), in order."""
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.lrange(run_log_key(job_id), 0, -1)
        replies = await pipe.execute()
    return {job_id: [w.decode() for w in log] for job_id, log in zip(job_ids, replies, strict=True)}


async def test_kill_9_of_one_of_two_workers_loses_nothing_and_doubles_nothing(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    url = await processes.web()
    victim, survivor = [await processes.worker(), await processes.worker()]
    async with job_events(redis) as events, JobsApi(url) as api:
        payloads = [{"sleep_s": SLEEP_S}] * JOBS
        # The kill comes while jobs are still being enqueued: under load, not at its tail.
        enqueuing = asyncio.create_task(enqueue_each(redis, "record_run", payloads, settings))

        async def under_way() -> bool:
            return len(events.finished) >= JOBS // 5 or enqueuing.done()

        await eventually(under_way, timeout_s=60)
        finished_before_kill = len(events.finished)
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        ids = await enqueuing
        assert await exit_code(victim.process) == -signal.SIGKILL

        async def all_finished() -> bool:
            return events.all_finished(ids)

        await eventually(all_finished, timeout_s=60)
        recovered_s = max(events.first_finished_at.values()) - killed_at
        listed = await api.listed("record_run")
    runs = await _run_logs(redis, ids)

    lost = [i for i in ids if i not in listed or listed[i]["status"] != "complete"]
    doubled = events.doubled()
    reruns = [i for i in ids if i in listed and listed[i]["tries"] > 1]
    report(
        "kill -9",
        jobs=JOBS,
        lost=len(lost),
        doubled=len(doubled),
        reruns=len(reruns),
        finished_before_kill=finished_before_kill,
        kill_to_all_complete_s=round(recovered_s, 2),
        lease_s=BASE_ENV["LEASE_S"],
    )
    assert lost == []
    assert doubled == []
    assert reruns, "the kill hit no running job: nothing was recovered"
    for job_id in ids:
        view, log = listed[job_id], runs[job_id]
        assert view["result"] == {"tries": view["tries"], "worker": view["worker"]}
        if view["tries"] == 1:
            assert log == [view["worker"]], (job_id, log)
        else:
            # Run again only because the victim held it: its earlier tries (if their bodies
            # had begun) are the victim's; the survivor finished it, once.
            assert view["tries"] == 2 and view["worker"] == survivor.worker_id, (job_id, view)
            assert log in ([survivor.worker_id], [victim.worker_id, survivor.worker_id]), log
    assert survivor.process.poll() is None
