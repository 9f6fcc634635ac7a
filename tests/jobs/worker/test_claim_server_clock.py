"""How long an idle worker waits for the next due job is reckoned on the server's clock (the
claim's reply), not the worker's: one whose clock is minutes ahead ran its claim script
hundreds of times a second while a deferred job waited (found by the chaos harness's
clock-skew step, `tests/chaos`)."""

import time

import pytest

from jobs.enqueue.submit import enqueue
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_job
from jobs.worker.claim import Claimer, Claims
from settings import Settings
from tests.support.waiting import eventually
from tests.support.workers import worker_in_background

SKEW_S = 600


def test_the_wait_for_the_next_due_job_is_reckoned_on_the_server_clock() -> None:
    assert Claims(next_due_ms=1_000_000_500, server_ms=1_000_000_000).due_in_s() == 0.5
    assert Claims(next_due_ms=1_000_000_000, server_ms=1_000_000_900).due_in_s() == 0.0
    assert Claims().due_in_s() is None


async def test_a_worker_clock_minutes_ahead_waits_for_a_deferred_job_without_spinning(
    redis: RedisClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    claims = 0
    claim, wait_then_claim = Claimer.claim, Claimer.wait_then_claim

    async def counted_claim(self: Claimer, limit: int) -> Claims:
        nonlocal claims
        claims += 1
        return await claim(self, limit)

    async def counted_wait(self: Claimer, timeout_s: float, limit: int) -> Claims:
        nonlocal claims
        claims += 1
        return await wait_then_claim(self, timeout_s, limit)

    monkeypatch.setattr(Claimer, "claim", counted_claim)
    monkeypatch.setattr(Claimer, "wait_then_claim", counted_wait)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + SKEW_S)
    async with worker_in_background(settings, redis, poll_fallback_s=5.0):
        before = claims
        enqueued = await enqueue(redis, "ping", {}, settings=settings, defer_by=1.0)

        async def complete() -> bool:
            record = await load_job(redis, enqueued.job_id, {"ping": 25})
            return record is not None and record.status is JobStatus.complete

        await eventually(complete, timeout_s=15)
    # One wait until it is due, then its claim (a few more at most: the enqueue's wake).
    assert claims - before < 10, f"{claims - before} claims for one deferred job"
