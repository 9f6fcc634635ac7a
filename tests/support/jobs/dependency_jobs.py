"""Jobs for the dependency proofs and bench (loaded through `JOB_MODULES`): each counts its
runs in Redis, so a test can tell a job that ran twice from one that ran once."""

import asyncio

from pydantic import BaseModel

from jobs.declare.context import JobContext
from jobs.declare.registry import job

RUNS = "test:deps:runs"
"""Hash label -> how many tries of that label began (HINCRBY when a try starts)."""
GO = "test:deps:go"
"""A job with `hold_until_go` runs on until this key exists: a test sets it to end many jobs
on several workers at about the same moment."""


class Count(BaseModel):
    label: str
    hold_s: float = 0.0
    """Run this long after counting (a killed worker's try is cut short here)."""
    hold_until_go: bool = False


class Counted(BaseModel):
    label: str
    parents: int
    """How many completed parents' results the try saw."""


@job(max_tries=5)
async def counted(ctx: JobContext, payload: Count) -> Counted:
    """Counts its try, holds as asked, and says how many parent results it saw."""
    await ctx.redis.hincrby(RUNS, payload.label, 1)  # type: ignore[misc]
    # A key another process sets: no asyncio.Event can carry that (polled every 2 ms).
    while payload.hold_until_go and not await ctx.redis.exists(GO):  # noqa: ASYNC110
        await asyncio.sleep(0.002)
    if payload.hold_s:
        await asyncio.sleep(payload.hold_s)
    return Counted(label=payload.label, parents=len(ctx.parent_results))


@job(max_tries=1, keep_result=60)
async def dep_noop(ctx: JobContext, payload: Count) -> Counted:
    """Nothing: what a dependency costs, without work around it (bench)."""
    return Counted(label=payload.label, parents=len(ctx.parent_results))
