"""Jobs that exist only for tests (loaded through `JOB_MODULES`)."""

import asyncio

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
