"""A crash mid-release loses nothing and doubles nothing (two real worker processes).

A settle (finish.lua) stores a parent's result and releases the children of its own queue in
one script; the children of other queues it hands back to the worker, which releases them on
their slots right after (release.lua). A worker killed between the two leaves those children
waiting with a parent final: the sweep of any worker serving the children's queue finds them
(their next look is due DEPENDENCY_SWEEP_S after the enqueue) and releases them, once.

That instant is too narrow to hit reliably with a real kill, so the first test is that worker:
it claims the parent and settles it through finish.lua exactly as a worker does, then drops
the releases it was handed (what a worker killed right after the settle never sent). The
second test kills a real worker with SIGKILL while it runs parents under load.
"""

import os
import signal

import pytest

from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus
from settings import Settings
from tests.support.crashes import sweep_sends_once_the_releases_a_dead_worker_owed
from tests.support.dependencies import (
    dependency_settings,
    dependency_worker,
    final_records,
    runs,
)
from tests.support.processes import Processes, exit_code
from tests.support.report import report
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_releases_a_dead_worker_owed_are_sent_by_a_sweep_once(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    await sweep_sends_once_the_releases_a_dead_worker_owed(
        processes,
        redis,
        settings,
        parent_queue="cr-a",
        child_queue="cr-b",
        children=20,
        release_within_s=15,
    )


async def test_kill_9_of_a_worker_running_parents_under_load_loses_and_doubles_nothing(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    """300 parents (k-a, 0.2 s each) on two workers, 30 children on k-b each waiting for 10 of
    them, and one waiting for all 300; the victim is killed mid-run. Its parents run again
    after their lease (LEASE_S=2); every child runs once, seeing all its parents."""
    s = dependency_settings(settings)
    env = {"WORKER_CONCURRENCY": "20", "CLAIM_BATCH": "10"}
    victim = await dependency_worker(processes, "k-a", **env)
    survivor = await dependency_worker(processes, "k-a,k-b", **env)
    parents = await enqueue_many(
        redis,
        "counted",
        [{"label": f"p{i}", "hold_s": 0.2} for i in range(300)],
        queue="k-a",
        settings=s,
    )
    parent_ids = [p.job_id for p in parents]
    children: dict[str, tuple[str, int]] = {}
    for g in range(30):
        child = await enqueue(
            redis,
            "counted",
            {"label": f"group-{g}"},
            queue="k-b",
            after=parent_ids[g * 10 : g * 10 + 10],
            settings=s,
        )
        children[child.job_id] = (f"group-{g}", 10)
    everything = await enqueue(
        redis, "counted", {"label": "all"}, queue="k-b", after=parent_ids, settings=s
    )
    children[everything.job_id] = ("all", 300)

    async def under_way() -> bool:
        return len(await runs(redis)) >= 80

    await eventually(under_way, timeout_s=30)
    os.kill(victim.pid, signal.SIGKILL)
    assert await exit_code(victim.process) == -signal.SIGKILL

    done = await final_records(redis, [*parent_ids, *children], timeout_s=90)
    counts = await runs(redis)
    rerun = [p for p in parent_ids if done[p].tries > 1]
    report(
        "kill -9 under load",
        parents=len(parent_ids),
        children=len(children),
        parents_run_again=len(rerun),
        children_runs=sorted({counts[label] for label, _ in children.values()}),
    )
    assert all(done[p].status is JobStatus.complete for p in parent_ids)
    assert rerun, "the kill came after the victim's parents had ended"
    assert {done[p].worker for p in rerun} == {survivor.worker_id}
    for child_id, (label, n_parents) in children.items():
        view = done[child_id]
        assert view.status is JobStatus.complete, view.error
        assert counts[label] == 1 and view.tries == 1, (label, counts[label])
        assert view.result["parents"] == n_parents
    assert await redis.zcard(keys.queue("k-b").waiting) == 0
    assert survivor.process.poll() is None
