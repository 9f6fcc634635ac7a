"""Bench-only jobs with flow control (`bench.flow_cost`), loaded with
`JOB_MODULES=bench.workers.ours_jobs,bench.workers.flow_jobs`."""

import asyncio

from pydantic import BaseModel

from bench import tally
from bench.workers.ours_jobs import NoopInput, NoopOutput
from jobs.declare.context import JobContext
from jobs.declare.registry import job


@job(name="bench_noop_limited", concurrency=1000, description="bench_noop behind a limit.")
async def bench_noop_limited(ctx: JobContext, payload: NoopInput) -> NoopOutput:
    """The no-op job with a concurrency limit it never reaches: what a limit costs."""
    await tally.record(payload.idx, payload.key, payload.stamp)
    return NoopOutput()


class GateInput(BaseModel):
    idx: int
    key: str
    hold_s: float = 0.0


@job(name="bench_one_at_a_time", concurrency=1, description="One at a time, all workers.")
async def bench_one_at_a_time(ctx: JobContext, payload: GateInput) -> NoopOutput:
    """Records its start and end by the queue server's clock (µs) on the tally server."""
    start = await ctx.redis.time()
    if payload.hold_s:
        await asyncio.sleep(payload.hold_s)
    end = await ctx.redis.time()
    us = [int(s) * 1_000_000 + int(m) for s, m in (start, end)]
    await tally.client().hset(f"{payload.key}:span", str(payload.idx), f"{us[0]} {us[1]}")
    return NoopOutput()
