"""Jobs with durable steps (`ctx.step`): each step's side effect counts itself in Redis, so a
test sees which steps ran how often across tries and workers."""

from typing import Any

import redis as sync_redis
from pydantic import BaseModel

from jobs import JobContext, SyncJobContext, job
from jobs.declare.steps import MAX_RESULT_BYTES


class Charge(BaseModel):
    charge_id: str
    amount: int


def effects_key(job_id: str) -> str:
    """A list of the step side effects of `job_id`, in the order they happened."""
    return f"test:steps:{job_id}"


def gate_key(job_id: str) -> str:
    """Set it to let `charge_then_wait` past its gate."""
    return f"test:steps:gate:{job_id}"


@job(max_tries=3, backoff_base=0.01, backoff_max=0.01)
async def charge_then_fail_once(ctx: JobContext, amount: int) -> str:
    """Charges (a step), ships (a step), and fails its first try after both: the retry must
    not charge or ship again, and gets the charge back as the model the step returned."""

    async def charge() -> Charge:
        await ctx.redis.rpush(effects_key(ctx.job_id), f"charge try {ctx.try_}")  # type: ignore[misc]
        return Charge(charge_id=f"ch_{ctx.job_id}", amount=amount)

    async def ship(charge: Charge) -> str:
        await ctx.redis.rpush(effects_key(ctx.job_id), f"ship try {ctx.try_}")  # type: ignore[misc]
        return f"parcel for {charge.charge_id}"

    charged = await ctx.step("charge", charge)
    parcel = await ctx.step("ship", ship, charged)
    if ctx.try_ == 1:
        raise ConnectionError("the receipt service is down")
    assert isinstance(charged, Charge)  # replayed as the step's return type
    return f"{parcel} ({charged.amount})"


@job(max_tries=3, backoff_base=0.01, backoff_max=0.01)
def charge_in_a_thread(ctx: SyncJobContext, amount: int) -> str:
    """`charge_then_fail_once` as a plain function: its steps block, in the job's thread."""
    client = sync_redis.Redis.from_url(ctx.settings.redis_url)

    def charge() -> Charge:
        client.rpush(effects_key(ctx.job_id), f"charge try {ctx.try_}")
        return Charge(charge_id=f"ch_{ctx.job_id}", amount=amount)

    charged = ctx.step("charge", charge)
    if ctx.try_ == 1:
        raise ConnectionError("the receipt service is down")
    return f"{charged.charge_id} ({charged.amount})"


@job(max_tries=3)
async def oversized_step(ctx: JobContext) -> None:
    """A step whose result is over the limit: the job fails for good, no retry."""

    async def export() -> str:
        return "x" * (MAX_RESULT_BYTES + 1)

    await ctx.step("export", export)


@job(max_tries=3, timeout=120)
async def charge_then_wait(ctx: JobContext) -> list[str]:
    """Charges (a step), then waits at a gate the test opens, then ships (a step): a worker
    killed at the gate leaves the charge recorded, and the next worker only ships."""

    async def charge() -> str:
        await ctx.redis.rpush(effects_key(ctx.job_id), f"charge by {ctx.worker_id}")  # type: ignore[misc]
        return "charged"

    async def ship() -> str:
        await ctx.redis.rpush(effects_key(ctx.job_id), f"ship by {ctx.worker_id}")  # type: ignore[misc]
        return "shipped"

    done = [await ctx.step("charge", charge)]
    while not await ctx.redis.exists(gate_key(ctx.job_id)):
        await ctx.redis.blpop([f"{gate_key(ctx.job_id)}:wake"], timeout=0.2)  # type: ignore[misc,arg-type]
    done.append(await ctx.step("ship", ship))
    return done


@job(max_tries=2)
async def nap_between_steps(ctx: JobContext, seconds: float) -> int:
    """A step, a durable sleep, a step: the sleep ends the try; the next one replays the first
    step, passes the sleep and runs the second."""

    async def note(what: str) -> str:
        await ctx.redis.rpush(effects_key(ctx.job_id), what)  # type: ignore[misc]
        return what

    await ctx.step("before", note, "before")
    await ctx.sleep(seconds)
    await ctx.step("after", note, "after")
    return ctx.try_


@job(max_tries=2)
async def wait_for_approval(ctx: JobContext, timeout_s: float = 60) -> dict[str, Any]:
    """Asks (a step), then parks until the `approved` signal, or fails at the timeout."""

    async def ask() -> str:
        await ctx.redis.rpush(effects_key(ctx.job_id), "asked")  # type: ignore[misc]
        return "asked"

    await ctx.step("ask", ask)
    decision = await ctx.wait_for_signal("approved", timeout=timeout_s)
    return {"decision": decision, "try": ctx.try_}


@job(max_tries=2)
def wait_for_approval_in_a_thread(ctx: SyncJobContext) -> Any:
    """`wait_for_approval` as a plain function."""
    return ctx.wait_for_signal("approved", timeout=60)
