"""Jobs for the blocked-loop tests: one `async def` that blocks its worker's event loop
(`time.sleep`, the mistake the watchdog names), and two well-behaved neighbours it hurts.

Loaded by end-to-end worker processes through `JOB_MODULES=tests.support.jobs.stall_jobs`.
Each try appends its number to the job's run log (`runs_key`), so a test can tell how often
a try's body ran from how many tries the job record counted.
"""

import asyncio
import time

from pydantic import BaseModel

from jobs.declare.context import JobContext
from jobs.declare.registry import job


def runs_key(job_id: str) -> str:
    """The tries of `job_id` whose body ran, one list entry (the try's number) each."""
    return f"test:stall-runs:{job_id}"


class StallRan(BaseModel):
    tries: int


class StallBlock(BaseModel):
    block_s: float
    """How long each blocking try holds the event loop (several leases)."""
    blocking_tries: int = 1
    """Tries 1..n block; later ones return at once."""


@job(max_tries=5, timeout=120)
async def block_loop(ctx: JobContext, payload: StallBlock) -> StallRan:
    """The mistake: blocking code in an `async def` job (it should be a plain `def`)."""
    await ctx.redis.rpush(runs_key(ctx.job_id), ctx.try_)  # type: ignore[misc]
    if ctx.try_ <= payload.blocking_tries:
        hold_the_loop(payload.block_s)
    return StallRan(tries=ctx.try_)


def hold_the_loop(seconds: float) -> None:
    """A named frame for the watchdog's stack to show."""
    time.sleep(seconds)  # blocking on purpose, called from an async def


class StallReport(BaseModel):
    seconds: float


@job(max_tries=5, timeout=60)
async def thread_report(ctx: JobContext, payload: StallReport) -> StallRan:
    """Work in a thread, done right: `asyncio.to_thread` (its await still needs the loop)."""
    await ctx.redis.rpush(runs_key(ctx.job_id), ctx.try_)  # type: ignore[misc]
    await asyncio.to_thread(time.sleep, payload.seconds)
    return StallRan(tries=ctx.try_)


class StallNotice(BaseModel):
    sleep_s: float = 0.2


@job(max_tries=3, timeout=300)
async def send_notice(ctx: JobContext, payload: StallNotice) -> StallRan:
    """A short job: "sends its email" (appends to the run log), then waits a little."""
    await ctx.redis.rpush(runs_key(ctx.job_id), ctx.try_)  # type: ignore[misc]
    await asyncio.sleep(payload.sleep_s)
    return StallRan(tries=ctx.try_)
