"""Jobs for the dependency and workflow tests (loaded through `JOB_MODULES`)."""

from typing import Any

from pydantic import BaseModel

from jobs.declare.context import JobContext
from jobs.declare.job_errors import JobFailed
from jobs.declare.registry import job


class Number(BaseModel):
    n: int = 0
    fail: bool = False
    """Fail for good (no retry) instead."""


class Numbered(BaseModel):
    n: int


class Gathered(BaseModel):
    parent_results: dict[str, Any]
    parent_failures: dict[str, Any]
    total: int


@job(max_tries=1)
async def numbered(ctx: JobContext, payload: Number) -> Numbered:
    """Returns its number, or fails for good when asked to."""
    if payload.fail:
        raise JobFailed(f"number {payload.n} was asked to fail")
    return Numbered(n=payload.n)


@job()
async def gather(ctx: JobContext, payload: Number) -> Gathered:
    """Sums the `n` of its parents' results and says what it saw of them."""
    total = payload.n + sum(
        r.get("n", 0) for r in ctx.parent_results.values() if isinstance(r, dict)
    )
    return Gathered(
        parent_results=ctx.parent_results, parent_failures=ctx.parent_failures, total=total
    )


RUNS = "tests:callback-runs:"
"""`batch_callback` counts its runs under this prefix + its job id."""


class BatchSeen(BaseModel):
    batch: dict[str, Any] | None
    parent_statuses: dict[str, str]
    runs: int


@job(max_tries=1)
async def batch_callback(ctx: JobContext, payload: Number) -> BatchSeen:
    """Counts its runs in Redis and says what it saw of its batch."""
    runs = int(await ctx.redis.incr(RUNS + ctx.job_id))
    return BatchSeen(batch=ctx.batch, parent_statuses=ctx.parent_statuses, runs=runs)
