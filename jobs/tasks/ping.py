"""`ping`: the canary for smoke checks, benchmarks and operators."""

import asyncio

from pydantic import Field

from jobs.declare.context import JobContext
from jobs.declare.models import Model
from jobs.declare.registry import job


class Ping(Model):
    message: str = Field(default="ping", max_length=10_000)
    sleep_s: float = Field(default=0, ge=0, le=300)
    fail_times: int = Field(default=0, ge=0, le=20)
    """Raise a retryable error on each try up to this one."""


class Pong(Model):
    message: str
    tries: int
    worker: str


class PingFailure(Exception):
    """The failure `ping` was asked for (retryable)."""


@job(max_tries=25, backoff_base=0.05, backoff_max=1.0)
async def ping(ctx: JobContext, payload: Ping) -> Pong:
    """Echo a message after an optional sleep; fail on purpose for the first `fail_times` tries."""
    if payload.sleep_s:
        await asyncio.sleep(payload.sleep_s)
    if ctx.try_ <= payload.fail_times:
        raise PingFailure(f"failing on purpose: try {ctx.try_} of {payload.fail_times}")
    return Pong(message=payload.message, tries=ctx.try_, worker=ctx.worker_id)
