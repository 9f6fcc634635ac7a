"""Jobs with flow control, for the flow-control tests (loaded through `JOB_MODULES`).

Each records when it ran by the Redis server's clock (`TIME`), so spans from several worker
processes compare on one clock."""

import asyncio

from pydantic import BaseModel

from jobs.declare.context import JobContext
from jobs.declare.job_errors import JobFailed
from jobs.declare.registry import job
from jobs.layout import keys

SPANS = "test:flow:spans"
"""List of "{label} {start µs} {end µs}" (server clock), one per finished try."""
STARTS = "test:flow:starts"
"""List of "{label} {start µs}", one per try that began (a killed try has no span)."""
ADMISSIONS = "test:flow:admitted"
"""List of "{label} {admitted µs}": when the rate limiter admitted the running try (the
`admitted` field flow.lua writes in the job's state hash), one per try of a rate-limited job."""


class Hold(BaseModel):
    label: str
    hold_s: float = 0.0
    customer: str = ""
    fail: bool = False
    """End the try failed for good (`JobFailed`) once its span is recorded."""


class Held(BaseModel):
    label: str


async def _server_us(ctx: JobContext) -> int:
    seconds, micros = await ctx.redis.time()
    return int(seconds) * 1_000_000 + int(micros)


async def _span(ctx: JobContext, payload: Hold) -> Held:
    start = await _server_us(ctx)
    await ctx.redis.rpush(STARTS, f"{payload.label} {start}")  # type: ignore[misc]
    admitted = await ctx.redis.hget(keys.of_job(ctx.job_id).state(ctx.job_id), "admitted")  # type: ignore[misc]
    if admitted is not None:
        await ctx.redis.rpush(ADMISSIONS, f"{payload.label} {admitted.decode()}")  # type: ignore[misc]
    if payload.hold_s:
        await asyncio.sleep(payload.hold_s)
    end = await _server_us(ctx)
    await ctx.redis.rpush(SPANS, f"{payload.label} {start} {end}")  # type: ignore[misc]
    if payload.fail:
        raise JobFailed(f"{payload.label} failed on purpose")
    return Held(label=payload.label)


@job(concurrency=3)
async def three_at_a_time(ctx: JobContext, payload: Hold) -> Held:
    """At most three run at once, across every worker."""
    return await _span(ctx, payload)


@job(concurrency=1, concurrency_key="customer")
async def one_per_customer(ctx: JobContext, payload: Hold) -> Held:
    """One at a time per customer; customers run in parallel."""
    return await _span(ctx, payload)


@job(rate_limit="20/s")
async def twenty_a_second(ctx: JobContext, payload: Hold) -> Held:
    """Admitted at most 20 times a second (GCRA, burst 1: one every 50 ms)."""
    return await _span(ctx, payload)


@job(concurrency=1000)
async def never_limited(ctx: JobContext, payload: Hold) -> Held:
    """A limit never reached: what a limit costs."""
    return Held(label=payload.label)


@job(unique_for=60)
async def unique_by_input(ctx: JobContext, payload: Hold) -> Held:
    """An equal enqueue within a minute, while this one is not final, returns this one."""
    return await _span(ctx, payload)


@job(unique_for=60, unique_key="customer")
async def unique_by_customer(ctx: JobContext, payload: Hold) -> Held:
    """Equal when the customer is."""
    return await _span(ctx, payload)


@job(debounce=0.3, unique_key="customer")
async def debounced(ctx: JobContext, payload: Hold) -> Held:
    """Runs 0.3 s after the last enqueue for its customer, with the last input."""
    return await _span(ctx, payload)


@job(expires=0.2)
async def expires_soon(ctx: JobContext, payload: Hold) -> Held:
    """Not started within 0.2 s of its enqueue, it never starts."""
    return await _span(ctx, payload)
