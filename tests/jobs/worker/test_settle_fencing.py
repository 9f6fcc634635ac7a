"""Every settle is fenced by its lease token; a claim whose reply was lost costs no try."""

import asyncio
import logging

import pytest

import tests.support.jobs.probe_jobs  # noqa: F401  (declares `wait_for_gate`)
from jobs.declare.context import JobContext
from jobs.enqueue.submit import enqueue
from jobs.layout import keys, scripts
from jobs.layout.connection import RedisClient
from jobs.layout.records import LeaseToken
from jobs.reading.job_record import JobStatus, load_job
from jobs.worker.claim import Claimer
from jobs.worker.loop import Worker
from jobs.worker.queue_order import ServedQueues
from jobs.worker.settle import Finisher, Settle
from settings import Settings
from tests.support.jobs.probe_jobs import cancelled_key
from tests.support.waiting import eventually

MAX = {"wait_for_gate": 3, "ping": 25}


async def test_settle_after_the_lease_passed_to_another_owner_is_refused(
    redis: RedisClient,
    settings: Settings,
    background_worker: Worker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = {"gate": "test:gate:fence"}
    enqueued = await enqueue(redis, "wait_for_gate", gate, settings=settings)
    job_id = enqueued.job_id

    async def running() -> bool:
        view = await load_job(redis, job_id, MAX)
        return view is not None and view.progress is not None  # the body has begun

    await eventually(running)
    stale = background_worker.slots.running[job_id]
    # The lease ran out and another worker claimed the job (its token, its try).
    owner = LeaseToken("other-worker", 1, "other-claim").encode()
    await redis.set(keys.of_job(job_id).lease(job_id), owner, px=60_000)
    await redis.hset(
        keys.of_job(job_id).state(job_id), "progress", '{"fraction": 0.9, "message": "owner"}'
    )  # type: ignore[misc]
    stale_context = JobContext(
        job_id, "wait_for_gate", 1, 3, None, "w", lease_token=stale.token, redis=redis
    )
    assert await stale_context.progress(1.0, "stale") is False  # fenced like every settle
    with caplog.at_level(logging.WARNING, logger="jobs.worker"):
        await redis.set("test:gate:fence", "1")  # the stale try finishes now

        async def refused() -> bool:
            return (
                job_id not in background_worker.slots.running
                and not background_worker._finisher.busy
            )

        await eventually(refused)
    assert await redis.get(keys.of_job(job_id).result(job_id)) is None  # no result stored
    assert await redis.get(keys.of_job(job_id).lease(job_id)) == owner.encode()  # owner untouched
    assert (
        await redis.exists(keys.of_job(job_id).job(job_id), keys.of_job(job_id).state(job_id)) == 2
    )
    view = await load_job(redis, job_id, MAX)
    assert view is not None and view.status is JobStatus.in_progress
    assert view.worker == "other-worker" and view.progress and view.progress.message == "owner"
    # Refused by the finisher, or cancelled first by the renewal that found the lease gone.
    lost = background_worker._finisher.lost + int(await redis.get(cancelled_key(job_id)) or 0)
    assert lost == 1
    assert background_worker.counts["complete"] <= 1
    if background_worker._finisher.lost:
        assert any("lease lost" in r.getMessage() for r in caplog.records)


async def test_claim_whose_reply_was_lost_runs_at_once_without_losing_a_try(
    redis: RedisClient, settings: Settings
) -> None:
    enqueued = await enqueue(redis, "ping", {"message": "lost reply"}, settings=settings)
    worker = Worker(settings, burst=True, handle_signals=False)
    claimer, q = worker._claimer, keys.queue(settings.queue_name)
    claim_id = claimer.new_claim_id()
    # The claim runs on the server, but its reply never reaches the worker.
    await scripts.script("claim")(redis, *claimer.claim_call(q, 10, claim_id))
    claimer.mark_unconfirmed(q, claim_id)
    view = await load_job(redis, enqueued.job_id, MAX)
    assert view is not None and view.status is JobStatus.in_progress and view.tries == 1
    # Without recovery the job would wait out its lease (5 s) and a burst worker would stop
    # before it comes due; recovered, it runs now, on the try the lost claim counted.
    await worker.main()
    done = await load_job(redis, enqueued.job_id, MAX)
    assert done is not None and done.status is JobStatus.complete
    assert done.tries == 1 and done.result == {
        "message": "lost reply",
        "tries": 1,
        "worker": worker.worker_id,
    }
    assert await redis.exists(q.claim(claim_id)) == 0  # a claim is recovered once


async def test_a_claims_record_goes_once_its_reply_has_arrived(
    redis: RedisClient, settings: Settings
) -> None:
    """Records are for lost replies only: the next claim on the queue drops the last one."""
    q = keys.queue(settings.queue_name)
    claimer = Worker(settings, burst=True, handle_signals=False)._claimer
    await enqueue(redis, "ping", {}, settings=settings)
    assert len((await claimer.claim(1)).jobs) == 1
    first = claimer._confirmed[q.name]
    assert await redis.exists(q.claim(first)) == 1
    await enqueue(redis, "ping", {}, settings=settings)
    assert len((await claimer.claim(1)).jobs) == 1
    assert await redis.exists(q.claim(first)) == 0
    assert await redis.exists(q.claim(claimer._confirmed[q.name])) == 1  # the latest stays


async def test_a_stale_row_does_not_hide_the_live_row_of_the_same_job_in_one_batch(
    redis: RedisClient, settings: Settings
) -> None:
    enqueued = await enqueue(redis, "wait_for_gate", {}, settings=settings)
    claimer = Claimer(redis, "w", ServedQueues.parse("", settings.queue_name), 5_000, True)
    [live] = (await claimer.claim(1)).jobs
    stale_token = LeaseToken("w", 1, "an-earlier-claim").encode()
    data = b'{"s": "complete"'
    rows = [
        Settle.final("complete", live.job_id, stale_token, data, 60_000, False),
        Settle.final("complete", live.job_id, live.token, data, 60_000, False),
    ]
    assert await Finisher(redis, legacy=True).store(rows) == [enqueued.job_id]
    q = keys.of_job(live.job_id)
    assert await redis.get(q.result(live.job_id)) is not None  # the live row was stored
    assert await redis.exists(q.lease(live.job_id)) == 0


async def test_a_settle_refused_for_memory_then_fenced_off_is_counted_lost_not_complete(
    redis: RedisClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Memory full past the lease (found by the chaos harness): the settle is refused (OOM,
    nothing written), the lease runs out meanwhile, and once memory frees the settle is fenced
    off. It is "lease lost", not counted complete as if an earlier attempt
    had stored it (that holds only when a connection dropped after the script ran)."""
    await enqueue(redis, "ping", {}, settings=settings)
    claimer = Claimer(redis, "w", ServedQueues.parse("", settings.queue_name), 5_000, True)
    [claimed] = (await claimer.claim(1)).jobs
    finisher = Finisher(redis, legacy=True)
    running = asyncio.ensure_future(finisher.run())
    used = int((await redis.info("memory"))["used_memory"])
    await redis.config_set("maxmemory", str(used // 2))
    try:
        with caplog.at_level(logging.WARNING, logger="jobs.worker"):
            data = b'{"s": "complete"}'
            finisher.submit(
                Settle.final("complete", claimed.job_id, claimed.token, data, 60_000, False),
                "ping",
                10,
            )

            async def refused_for_memory() -> bool:
                return any("could not settle" in r.getMessage() for r in caplog.records)

            await eventually(refused_for_memory)
            # The lease runs out meanwhile (DEL is allowed over `maxmemory`), then memory frees.
            await redis.delete(keys.of_job(claimed.job_id).lease(claimed.job_id))
            await redis.config_set("maxmemory", "0")
            assert await finisher.flushed(10)
    finally:
        await redis.config_set("maxmemory", "0")
        running.cancel()
    assert finisher.lost == 1
    assert finisher.counts["complete"] == 0
    assert any("lease lost" in r.getMessage() for r in caplog.records)
    assert await redis.get(keys.of_job(claimed.job_id).result(claimed.job_id)) is None
