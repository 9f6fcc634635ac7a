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
from jobs.graph import dependencies
from jobs.layout import keys, scripts
from jobs.layout.connection import RedisClient, server_ms
from jobs.layout.results import result_data
from jobs.reading.job_record import JobStatus
from jobs.worker.claim import Claimer
from jobs.worker.queue_order import ServedQueues
from settings import Settings
from tests.support.dependencies import (
    SWEEP_S,
    dependency_settings,
    dependency_worker,
    final_records,
    ms,
    runs,
)
from tests.support.processes import Processes, exit_code
from tests.support.report import report
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_releases_a_dead_worker_owed_are_sent_by_a_sweep_once(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    s = dependency_settings(settings)
    for _ in range(2):  # both sweep cr-b: their sweeps race too
        await dependency_worker(processes, "cr-b")
    parent = await enqueue(redis, "counted", {"label": "parent"}, queue="cr-a", settings=s)
    labels = [f"child-{i}" for i in range(20)]
    children = await enqueue_many(
        redis,
        "counted",
        [{"label": label} for label in labels],
        queue="cr-b",
        after=[parent.job_id],
        settings=s,
    )
    child_ids = [c.job_id for c in children]
    q, qb = keys.queue("cr-a"), keys.queue("cr-b")
    first_looks = [await redis.zscore(qb.waiting, c) for c in child_ids]
    assert all(first_looks)

    # The doomed worker: claim the parent, settle it complete as the finisher does...
    claimer = Claimer(redis, "w-doomed", ServedQueues.parse("cr-a", "arq:queue"), 5000, False)
    claimed = (await claimer.claim(1)).jobs
    assert [c.job_id for c in claimed] == [parent.job_id]
    data = result_data(
        name="counted",
        args=[{"label": "parent"}],
        kwargs={},
        tries=claimed[0].tries,
        enqueued_ms=0,
        status="complete",
        result={"label": "parent", "parents": 0},
        started_ms=claimed[0].started_ms,
        worker="w-doomed",
    )
    row = ("complete", parent.job_id, claimed[0].token, data, 60_000, "")
    lost, owed = await scripts.script("finish")(
        redis, [q.due, q.failed, q.index], [q.prefix, "0", 5000, *row]
    )
    settled_ms = await server_ms(redis)
    # ...which stored the result and handed back one release per child, never sent: it died.
    assert lost == []
    # (in no particular order: the script reads the parent's children from a set)
    assert sorted(dependencies.releases_from(owed)) == sorted(
        (c, parent.job_id, "complete") for c in child_ids
    )
    parent_view = (await final_records(redis, [parent.job_id]))[parent.job_id]
    assert parent_view.status is JobStatus.complete

    done = await final_records(redis, child_ids, timeout_s=3 * SWEEP_S + 15)
    counts = await runs(redis)
    started = [ms(done[c].started_at) for c in child_ids]
    report(
        "release owed by a dead worker",
        children=len(child_ids),
        settle_to_first_start_ms=min(started) - settled_ms,
        settle_to_last_start_ms=max(started) - settled_ms,
        sweep_s=SWEEP_S,
    )
    for child_id, label, first_look in zip(child_ids, labels, first_looks, strict=True):
        view = done[child_id]
        assert view.status is JobStatus.complete, view.error
        assert view.tries == 1 and counts[label] == 1
        assert view.result["parents"] == 1  # it saw the parent's result
        # Released by a sweep (its first look), not before: nothing else could release it.
        assert first_look is not None and ms(view.started_at) >= first_look
    # Released for good: no look is scheduled, no parent is still awaited.
    assert await redis.zcard(qb.waiting) == 0
    assert not any([await redis.exists(qb.deps(c)) for c in child_ids])
    assert "Traceback" not in processes.log_text("worker")


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
