"""Jobs that let tests hold a try open, count its runs and steer its outcome.

Imported by the tests that use them and loaded by end-to-end worker processes through
`JOB_MODULES=tests.support.jobs.probe_jobs`. They keep their bookkeeping under `test:` keys.
"""

import asyncio
import time

from arq.worker import Retry
from pydantic import BaseModel

from jobs.declare.context import JobContext
from jobs.declare.registry import job


def runs_key(job_id: str) -> str:
    """How many times a try of `job_id` started."""
    return f"test:runs:{job_id}"


def cancelled_key(job_id: str) -> str:
    """How many times a try of `job_id` saw its coroutine cancelled."""
    return f"test:cancelled:{job_id}"


class Gate(BaseModel):
    gate: str = "test:gate"
    """The try finishes once this Redis key exists."""
    fraction: float = 0.5
    message: str = "halfway"


class Opened(BaseModel):
    tries: int
    worker: str


@job(max_tries=3, timeout=60)
async def wait_for_gate(ctx: JobContext, payload: Gate) -> Opened:
    """Count the run, report progress, then wait until the test opens the gate."""
    await ctx.redis.incr(runs_key(ctx.job_id))
    try:
        # Progress is reported inside the try: once it shows, a cancel is counted.
        await ctx.progress(payload.fraction, payload.message)
        while not await ctx.redis.exists(payload.gate):  # noqa: ASYNC110 (a Redis key, not an Event)
            await asyncio.sleep(0.02)
    except asyncio.CancelledError:
        await ctx.redis.incr(cancelled_key(ctx.job_id))
        raise
    return Opened(tries=ctx.try_, worker=ctx.worker_id)


class FlakyError(Exception):
    """A retryable failure on purpose."""


class Flaky(BaseModel):
    fail_times: int = 1
    retry_defer_s: float | None = None
    """Fail by raising ARQ's `Retry(defer=...)` instead of `FlakyError`."""


@job(max_tries=4, backoff_base=30, backoff_max=40)
async def flaky(ctx: JobContext, payload: Flaky) -> Opened:
    """Fail the first `fail_times` tries (long backoff: 30 s, then 40 s), then succeed."""
    if ctx.try_ <= payload.fail_times:
        if payload.retry_defer_s is not None:
            raise Retry(defer=payload.retry_defer_s)
        raise FlakyError(f"try {ctx.try_} fails on purpose")
    return Opened(tries=ctx.try_, worker=ctx.worker_id)


def run_log_key(job_id: str) -> str:
    """The workers that started a try of `job_id`, one list entry per try, in order."""
    return f"test:run-log:{job_id}"


def try_gate(gate: str, try_: int) -> str:
    """The key that lets try `try_` of a `record_run` job with this `gate` finish."""
    return f"{gate}:{try_}"


class Run(BaseModel):
    stall_try_1_s: float = 0
    """Try 1 first blocks its worker's whole event loop this long (like a long GC pause):
    between its first Redis reply and its end that worker hears nothing from Redis, lease
    renewals included."""
    sleep_s: float = 0
    gate: str | None = None
    """When set, try n (from `gated_from_try` on) then waits until `try_gate(gate, n)` exists."""
    gated_from_try: int = 1


@job(max_tries=3, timeout=60)
async def record_run(ctx: JobContext, payload: Run) -> Opened:
    """Log which worker runs this try, then stall, sleep and/or wait for this try's gate."""
    await ctx.redis.rpush(run_log_key(ctx.job_id), ctx.worker_id)  # type: ignore[misc]
    if ctx.try_ == 1 and payload.stall_try_1_s:
        time.sleep(payload.stall_try_1_s)  # noqa: ASYNC251 (blocking on purpose)
    if payload.sleep_s:
        await asyncio.sleep(payload.sleep_s)
    if payload.gate is not None and ctx.try_ >= payload.gated_from_try:
        gate = try_gate(payload.gate, ctx.try_)
        while not await ctx.redis.exists(gate):  # noqa: ASYNC110 (a Redis key, not an Event)
            await asyncio.sleep(0.02)
    return Opened(tries=ctx.try_, worker=ctx.worker_id)


class ThreadSleep(BaseModel):
    seconds: float = 60


@job(max_tries=3, timeout=120)
async def sleep_in_thread(ctx: JobContext, payload: ThreadSleep) -> Opened:
    """Count the run, report progress, then await blocking work on a thread: cancelling the
    await (shutdown) leaves the thread running."""
    await ctx.redis.incr(runs_key(ctx.job_id))
    await ctx.progress(0.5, "sleeping on a thread")
    await asyncio.to_thread(time.sleep, payload.seconds)
    return Opened(tries=ctx.try_, worker=ctx.worker_id)
