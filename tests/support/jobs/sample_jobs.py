"""Jobs that exist only for tests (loaded through `JOB_MODULES`)."""

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

from arq.worker import Retry
from pydantic import BaseModel, ConfigDict

from jobs.declare.context import JobContext
from jobs.declare.job_errors import JobFailed
from jobs.declare.registry import job
from jobs.declare.worker_lifespan import worker_lifespan


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


LIFESPAN_EVENTS: list[str] = []
"""What the sample worker lifespan did, in order (for test_lifespan)."""


@worker_lifespan
async def shared_counter(resources: dict[str, Any]) -> AsyncIterator[None]:
    """A resource every job of the worker shares, opened at start and closed at stop."""
    LIFESPAN_EVENTS.append("open")
    resources["counter"] = itertools.count(1)
    yield
    LIFESPAN_EVENTS.append("close")


class Counted(BaseModel):
    n: int


@job()
async def count_with_shared_resource(ctx: JobContext, payload: Empty) -> Counted:
    """Takes the next number from the worker's shared counter."""
    counter: itertools.count[int] = ctx.resource("counter")
    return Counted(n=next(counter))


class Seen(BaseModel):
    enqueued_at: str


@job()
async def context_probe(ctx: JobContext, payload: Empty) -> Seen:
    """Reports what its context says of the job."""
    assert ctx.enqueued_at is not None
    return Seen(enqueued_at=ctx.enqueued_at.isoformat())


@job(extra_fields="ignore")
def lenient_note(text: str = "") -> str:
    """Opted out of strict input: fields it does not declare are dropped at enqueue."""
    return text


class KeepsExtras(BaseModel):
    model_config = ConfigDict(extra="allow")
    text: str = ""


@job()
async def keeps_extras(ctx: JobContext, payload: KeepsExtras) -> Done:
    """Its model says `extra="allow"` itself: an enqueue keeps unknown fields."""
    return Done()


class TenantRecord(Record):
    tenant: str


@job(max_tries=3, fair_key="tenant")
async def record_tenant(ctx: JobContext, payload: TenantRecord) -> Done:
    """`record_start` with a fair share per tenant: tenants' jobs take turns."""
    return await record_start(ctx, payload)


@job(max_tries=3, fair_key="tenant", concurrency=1, concurrency_key="tenant")
async def record_tenant_limited(ctx: JobContext, payload: TenantRecord) -> Done:
    """`record_tenant` with one try at a time per tenant (fair shares and a concurrency gate)."""
    return await record_start(ctx, payload)


@job(max_tries=3, fair_key="tenant", debounce=0.05, unique_key="tenant")
async def debounced_tenant(ctx: JobContext, payload: TenantRecord) -> Done:
    """Debounced per tenant, with a fair share per tenant."""
    return await record_start(ctx, payload)


@job(max_tries=3, fair_key="tenant", rate_limit="50/s")
async def record_tenant_rated(ctx: JobContext, payload: TenantRecord) -> Done:
    """`record_tenant` behind a rate limit (fair shares and a rate gate)."""
    return await record_start(ctx, payload)
