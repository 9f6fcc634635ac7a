"""Job dependencies (`after=`) across two real worker processes (`python -m jobs`).

Queues are served so that a release has to cross processes: a parent settled by one worker
releases a child that another worker runs (release.lua from the settling worker), besides
the children of its own queue (released inside the settle, finish.lua). Outcomes are the
JobViews; "ran once" is counted by the jobs themselves (`counted` INCRs a counter per try).
The crash proofs are in test_dependencies_crash.py.
"""

import pytest

from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus
from settings import Settings
from tests.support.dependencies import (
    dependency_settings,
    dependency_worker,
    final_records,
    ms,
    runs,
)
from tests.support.jobs.dependency_jobs import GO
from tests.support.processes import Processes
from tests.support.report import report
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_a_fan_out_of_50_and_a_fan_in_that_sees_all_50_results(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    """Worker A serves fan-a, worker B fan-b only: the root on fan-a releases 25 children on
    its own queue (in its settle) and 25 on fan-b (relayed to B); the fan-in on fan-a waits
    for all 50, released by A's settles and by B's relays."""
    s = dependency_settings(settings)
    a = await dependency_worker(processes, "fan-a")
    b = await dependency_worker(processes, "fan-b")
    root = await enqueue(redis, "numbered", {"n": 0}, queue="fan-a", settings=s)
    fanned = []
    for queue, numbers in (("fan-a", range(1, 26)), ("fan-b", range(26, 51))):
        fanned += await enqueue_many(
            redis,
            "numbered",
            [{"n": n} for n in numbers],
            queue=queue,
            after=[root.job_id],
            settings=s,
        )
    assert all(e.waiting for e in fanned)
    fan_in = await enqueue(
        redis, "gather", {}, queue="fan-a", after=[e.job_id for e in fanned], settings=s
    )

    done = await final_records(redis, [root.job_id, fan_in.job_id, *(e.job_id for e in fanned)])
    child = done[fan_in.job_id]
    assert child.status is JobStatus.complete, child.error
    assert child.result["parent_results"] == {
        e.job_id: {"n": n} for e, n in zip(fanned, range(1, 51), strict=True)
    }
    assert child.result["parent_failures"] == {}
    assert child.result["total"] == sum(range(1, 51))
    assert child.tries == 1 and child.worker == a.worker_id
    ran_by = {e.job_id: done[e.job_id].worker for e in fanned}
    assert {ran_by[e.job_id] for e in fanned[:25]} == {a.worker_id}
    assert {ran_by[e.job_id] for e in fanned[25:]} == {b.worker_id}
    assert all(done[e.job_id].status is JobStatus.complete for e in fanned)
    assert "Traceback" not in processes.log_text("worker")


async def test_a_chain_of_3_whose_middle_fails_fails_or_ignores(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    """first (chain-a) -> middle (chain-b, fails for good) -> last (chain-a), twice: the last
    one `fail`s (ParentFailed naming the middle, never started) or `ignore`s (runs, and sees
    the failure and the error)."""
    s = dependency_settings(settings)
    await dependency_worker(processes, "chain-a")
    await dependency_worker(processes, "chain-b")
    lasts = {}
    middles = {}
    for rule in ("fail", "ignore"):
        first = await enqueue(redis, "numbered", {"n": 1}, queue="chain-a", settings=s)
        middle = await enqueue(
            redis,
            "numbered",
            {"n": 2, "fail": True},
            queue="chain-b",
            after=[first.job_id],
            settings=s,
        )
        job, payload = ("counted", {"label": "last-fail"}) if rule == "fail" else ("gather", {})
        last = await enqueue(
            redis,
            job,
            payload,
            queue="chain-a",
            after=[middle.job_id],
            on_parent_failure="fail" if rule == "fail" else "ignore",
            settings=s,
        )
        middles[rule], lasts[rule] = middle.job_id, last.job_id

    done = await final_records(redis, [*lasts.values(), *middles.values()])
    for rule in ("fail", "ignore"):
        middle_view = done[middles[rule]]
        assert middle_view.status is JobStatus.failed and middle_view.error is not None
        assert middle_view.error.type == "JobFailed" and middle_view.tries == 1

    failed = done[lasts["fail"]]
    assert failed.status is JobStatus.failed and failed.error is not None
    assert failed.error.type == "ParentFailed"
    assert middles["fail"] in failed.error.message and "failed" in failed.error.message
    assert failed.started_at is None and failed.tries == 0
    assert "last-fail" not in await runs(redis)  # its code never ran

    ignored = done[lasts["ignore"]]
    assert ignored.status is JobStatus.complete, ignored.error
    assert ignored.tries == 1 and ignored.started_at is not None
    assert ignored.result["parent_results"] == {}
    seen = ignored.result["parent_failures"]
    assert list(seen) == [middles["ignore"]]
    assert seen[middles["ignore"]]["status"] == "failed"
    assert seen[middles["ignore"]]["error"]["type"] == "JobFailed"


async def test_parents_ending_together_on_two_workers_release_each_child_once(
    processes: Processes, redis: RedisClient, settings: Settings
) -> None:
    """Each round: 20 parents on ex-a (worker 1) and 20 on ex-b (worker 2) all running, held
    until one key appears, then ending within a few ms of each other; two children wait for
    all 40: one on ex-a (released inside worker 1's settle, and relayed by worker 2) and one on
    ex-c (relayed by both). Each child must begin exactly one try."""
    s = dependency_settings(settings)
    await dependency_worker(processes, "ex-a,ex-c", WORKER_CONCURRENCY="30")
    await dependency_worker(processes, "ex-b,ex-c", WORKER_CONCURRENCY="30")
    rounds, per_queue = 10, 20
    children: dict[str, str] = {}
    spreads: list[int] = []
    """Per round, ms between the first and the last of the 40 parents' settles."""
    for r in range(rounds):
        await redis.delete(GO)
        parents = []
        for queue in ("ex-a", "ex-b"):
            payloads = [
                {"label": f"{r}-{queue}-{i}", "hold_until_go": True} for i in range(per_queue)
            ]
            parents += await enqueue_many(redis, "counted", payloads, queue=queue, settings=s)
        parent_ids = [e.job_id for e in parents]
        for queue in ("ex-a", "ex-c"):
            child = await enqueue(
                redis,
                "counted",
                {"label": f"{r}-child-{queue}"},
                queue=queue,
                after=parent_ids,
                settings=s,
            )
            children[child.job_id] = f"{r}-child-{queue}"

        async def all_running(r: int = r) -> bool:
            started = await runs(redis)
            return sum(1 for label in started if label.startswith(f"{r}-ex-")) == 2 * per_queue

        await eventually(all_running, timeout_s=30)
        await redis.set(GO, "1")
        done = await final_records(redis, [*parent_ids, *list(children)[-2:]])
        assert all(done[p].status is JobStatus.complete for p in parent_ids)
        finished = [ms(done[p].finished_at) for p in parent_ids]
        spreads.append(max(finished) - min(finished))

    counts = await runs(redis)
    records = await final_records(redis, children)
    report(
        "release once",
        rounds=rounds,
        children=len(children),
        parents_settled_within_ms=spreads,
        runs={label: counts[label] for label in children.values()},
    )
    for child_id, label in children.items():
        record = records[child_id]
        assert record.status is JobStatus.complete, record.error
        assert counts[label] == 1, (label, counts[label])
        assert record.tries == 1
        assert record.result["parents"] == 2 * per_queue
    for queue in ("ex-a", "ex-c"):
        assert await redis.zcard(keys.queue(queue).waiting) == 0  # nothing left to sweep
