"""Jobs whose input, progress, step result, signal body, result and error all carry the input's
text: with `ENCRYPTION_KEYS` set, none of it may reach Redis, a log or a metric in clear
(`tests/e2e/test_encryption_e2e.py`)."""

from typing import Any

from pydantic import BaseModel

from jobs import JobContext, JobFailed, job


class Secret(BaseModel):
    text: str
    tenant: str = "t"
    fail_first: bool = False
    """Its first try raises an error quoting `text` (retried: the error sits in its state)."""


class Echoed(BaseModel):
    text: str
    signal: Any = None


@job(
    max_tries=3,
    backoff_base=0.01,
    backoff_max=0.01,
    concurrency=2,
    concurrency_key="tenant",
    rate_limit="1000/s",
    rate_key="tenant",
)
async def secret_echo(ctx: JobContext, payload: Secret) -> Echoed:
    """Records a step and progress quoting the text, returns it."""

    async def keep(text: str) -> str:
        return f"kept {text}"

    kept = await ctx.step("keep", keep, payload.text)
    await ctx.progress(0.5, f"working on {payload.text}")
    if payload.fail_first and ctx.try_ == 1:
        raise ValueError(f"first try failed on {payload.text}")
    return Echoed(text=kept)


@job(max_tries=1)
async def secret_fail(ctx: JobContext, payload: Secret) -> Echoed:
    raise JobFailed(f"refused {payload.text}")


@job(unique_for=60, unique_key="tenant")
async def secret_wait(ctx: JobContext, payload: Secret) -> Echoed:
    """Waits for the signal `go`; returns its body."""
    body = await ctx.wait_for_signal("go", timeout=60)
    return Echoed(text=payload.text, signal=body)


@job(max_tries=2, backoff_base=3600, backoff_max=3600)
async def secret_retry_later(ctx: JobContext, payload: Secret) -> Echoed:
    """Fails its first try quoting the text, and waits an hour for the next: its error stays
    in its state meanwhile."""
    raise ValueError(f"try failed on {payload.text}")
