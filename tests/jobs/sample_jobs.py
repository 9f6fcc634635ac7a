"""Jobs that exist only for tests (loaded through `JOB_MODULES`)."""

import asyncio

from arq.worker import Retry
from pydantic import BaseModel

from jobs.context import JobContext
from jobs.errors import JobFailed
from jobs.registry import job


class Empty(BaseModel):
    pass


class Done(BaseModel):
    ok: bool = True


class Wait(BaseModel):
    seconds: float


@job(max_tries=3)
async def always_permanent(ctx: JobContext, payload: Empty) -> Done:
    """Fails with JobFailed: never retried."""
    raise JobFailed("no point retrying")


@job(max_tries=2, timeout=0.2)
async def too_slow(ctx: JobContext, payload: Wait) -> Done:
    """Sleeps past its timeout."""
    await asyncio.sleep(payload.seconds)
    return Done()


@job(max_tries=3, retry_on=(ConnectionError,))
async def not_retried_value_error(ctx: JobContext, payload: Empty) -> Done:
    """Raises an exception outside its retry_on."""
    raise ValueError("bad value")


@job(queue="emails")
async def on_emails_queue(ctx: JobContext, payload: Empty) -> Done:
    """Declared on its own queue: only a worker serving `emails` runs it."""
    return Done()


STARTS = "test:starts"
"""The list `record_start` appends to by default: the order tries started in."""


class Record(BaseModel):
    label: str
    key: str = STARTS
    retry_first_s: float | None = None
    """When set, the first try asks for a retry this many seconds later (ARQ's `Retry`)."""


@job(max_tries=3)
async def record_start(ctx: JobContext, payload: Record) -> Done:
    """Append `label` to the Redis list `key` at the start of every try: start order."""
    await ctx.redis.rpush(payload.key, payload.label)  # type: ignore[misc]
    if payload.retry_first_s is not None and ctx.try_ == 1:
        raise Retry(defer=payload.retry_first_s)
    return Done()


@job(keep_result=0)
async def fire_and_forget(ctx: JobContext, payload: Empty) -> Done:
    """Keeps no result: its final status stays readable for RESULT_GRACE_S, then goes."""
    return Done()
