"""Crash-recovery bodies run by both the single-server suite (tests/e2e) and the cluster suite
(tests/cluster): each test there passes its own fixtures (`Processes` or `ClusterProcesses`,
its client and settings) and its queues; the body does the crash and asserts the outcome."""

import asyncio
import os
import signal

from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.graph import dependencies
from jobs.layout import keys, scripts
from jobs.layout.connection import RedisClient, pubsub_client, server_ms
from jobs.layout.records import result_data
from jobs.reading.job_record import JobStatus, load_job
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
from tests.support.jobs.probe_jobs import runs_key
from tests.support.processes import Processes, exit_code
from tests.support.report import report
from tests.support.waiting import eventually

MAX_TRIES = {"wait_for_gate": 3}
GATE = "test:gate:crash"


async def killed_workers_job_runs_again_after_the_lease(
    processes: Processes,
    redis: RedisClient,
    settings: Settings,
    *,
    queue: str | None = None,
    complete_within_s: float,
    **worker_env: str,
) -> None:
    """Two worker processes (`worker_env`); a `wait_for_gate` job on `queue` is killed -9 mid-job
    with the worker running it. The other runs it after the lease: a second try, one result
    (one `finished` event), nothing left behind."""
    workers = [await processes.worker(**worker_env), await processes.worker(**worker_env)]
    finished_events: list[str] = []
    listener = pubsub_client(settings)
    pubsub = listener.pubsub()
    await pubsub.subscribe(keys.EVENTS)

    async def collect() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message" and message["data"].startswith(b"finished "):
                finished_events.extend(message["data"].decode().split()[1:])

    collector = asyncio.create_task(collect())
    try:
        enqueued = await enqueue(
            redis, "wait_for_gate", {"gate": GATE}, queue=queue, settings=settings
        )
        job_id = enqueued.job_id

        async def running() -> bool:
            # Mid-job: claimed (the lease names the worker) and its body has begun.
            view = await load_job(redis, job_id, MAX_TRIES)
            started = await redis.get(runs_key(job_id)) == b"1"
            return view is not None and view.status is JobStatus.in_progress and started

        await eventually(running)
        view = await load_job(redis, job_id, MAX_TRIES)
        assert view is not None
        victim = next(w for w in workers if w.worker_id == view.worker)
        survivor = next(w for w in workers if w is not victim)
        os.kill(victim.pid, signal.SIGKILL)
        assert await exit_code(victim.process) == -signal.SIGKILL
        await redis.set(GATE, "1")

        async def complete() -> bool:
            view = await load_job(redis, job_id, MAX_TRIES)
            return view is not None and view.status is JobStatus.complete

        await eventually(complete, timeout_s=complete_within_s)
        done = await load_job(redis, job_id, MAX_TRIES)
        assert done is not None
        assert done.tries == 2 and done.result == {"tries": 2, "worker": survivor.worker_id}
        assert await redis.get(runs_key(job_id)) == b"2"  # ran twice, not more

        async def settled() -> bool:
            return job_id in finished_events

        await eventually(settled)
    finally:
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await listener.aclose()
    # The survivor is still healthy and the result was written once.
    assert finished_events.count(job_id) == 1
    assert survivor.process.poll() is None
    assert await redis.zscore(keys.of_job(job_id).failed, job_id) is None
    assert (
        await redis.exists(keys.of_job(job_id).lease(job_id), keys.of_job(job_id).job(job_id)) == 0
    )


async def sweep_sends_once_the_releases_a_dead_worker_owed(
    processes: Processes,
    redis: RedisClient,
    settings: Settings,
    *,
    parent_queue: str,
    child_queue: str,
    children: int,
    release_within_s: float,
) -> None:
    """Two workers serve `child_queue` (their sweeps race too). The test is the doomed worker:
    it claims a parent on `parent_queue` and settles it through finish.lua exactly as a worker
    does, then drops the releases it was handed for the `children` waiting on `child_queue`
    (what a worker killed right after its settle never sent). A sweep releases each child once,
    no earlier than its first look."""
    s = dependency_settings(settings)
    for _ in range(2):
        await dependency_worker(processes, child_queue)
    parent = await enqueue(redis, "counted", {"label": "parent"}, queue=parent_queue, settings=s)
    labels = [f"child-{i}" for i in range(children)]
    enqueued = await enqueue_many(
        redis,
        "counted",
        [{"label": label} for label in labels],
        queue=child_queue,
        after=[parent.job_id],
        settings=s,
    )
    child_ids = [c.job_id for c in enqueued]
    qa, qb = keys.queue(parent_queue), keys.queue(child_queue)
    first_looks = [await redis.zscore(qb.waiting, c) for c in child_ids]
    assert all(first_looks)

    # The doomed worker: claim the parent, settle it complete as the finisher does...
    claimer = Claimer(redis, "w-doomed", ServedQueues.parse(parent_queue, "arq:queue"), 5000, False)
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
        redis, [qa.due, qa.failed, qa.index], [qa.prefix, "0", 5000, *row]
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

    done = await final_records(redis, child_ids, timeout_s=3 * SWEEP_S + release_within_s)
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
