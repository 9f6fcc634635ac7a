"""The jobs of the chaos harness (`tests/chaos`), loaded by its workers through `JOB_MODULES`.

Each try records itself from inside the real code path: its start (job id, try, lease token,
which holds the worker and the server ms of the claim) and its end go to the harness's history
stream, on a Valkey of its own that no fault touches (`CHAOS_HISTORY_URL`); the stream's entry
ids are that server's clock. Each returns its try and lease token, so the stored result says
which try wrote it.
"""

import asyncio
import mmap
import random
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.asyncio import Redis
from redis.exceptions import RedisError

from jobs.declare.context import JobContext
from jobs.declare.registry import job
from jobs.declare.worker_lifespan import worker_lifespan
from jobs.layout import keys

HISTORY = "chaos:history"
"""The stream every try writes its start and end to (the harness reads it at the end)."""
RATE_LIMIT = "10/s"
RATE_INTERVAL_US = 100_000
"""`RATE_LIMIT`'s interval: admissions of one key at least this far apart (burst 1)."""
MAX_TRIES = 25
"""Far more than the faults can burn: a job that fails for want of tries is a finding."""


class ChaosEnvironment(BaseSettings):
    """Where the history goes: the harness sets it for the workers it starts."""

    model_config = SettingsConfigDict(env_ignore_empty=True)

    chaos_history_url: str = "redis://127.0.0.1:6379/0"


@worker_lifespan
async def history_client(resources: dict[str, Any]) -> AsyncIterator[None]:
    client = Redis.from_url(ChaosEnvironment().chaos_history_url, socket_connect_timeout=2)
    resources["chaos_history"] = client
    yield
    await client.aclose()


class Work(BaseModel):
    n: int
    sleep_s: float = 0.0
    alloc_mb: int = 0
    """Memory the try allocates anew (and frees): under `memory_pressure` it fails for want
    of it, and is tried again."""


class Serial(BaseModel):
    key: str
    seq: int
    sleep_s: float = 0.0


class Rated(BaseModel):
    key: str
    seq: int


class Callback(BaseModel):
    batch: str = ""


class Done(BaseModel):
    try_: int
    lease_token: str
    worker: str


async def _record(ctx: JobContext, event: str, **fields: str | int) -> None:
    history: Redis = ctx.resource("chaos_history")
    row = {"ev": event, "job": ctx.job_id, "name": ctx.name, "try": ctx.try_, **fields}
    row["token"] = ctx.lease_token
    # Never given up: the history server is not faulted, but a try must not end unrecorded.
    for attempt in range(50):
        try:
            await history.xadd(HISTORY, row)  # type: ignore[arg-type]
            return
        except (RedisError, OSError):
            await asyncio.sleep(0.05 * (attempt + 1))


async def _run(ctx: JobContext, sleep_s: float, **fields: str | int) -> Done:
    await _record(ctx, "start", **fields)
    try:
        await asyncio.sleep(sleep_s if sleep_s else random.uniform(0.02, 0.3))
    finally:
        await _record(ctx, "end")
    return Done(try_=ctx.try_, lease_token=ctx.lease_token, worker=ctx.worker_id)


@job(max_tries=MAX_TRIES, backoff_base=0.05, backoff_max=0.2)
async def chaos_work(ctx: JobContext, payload: Work) -> Done:
    """A plain job (also the nodes of workflows and the members of batches)."""
    parents = " ".join(f"{i}={s}" for i, s in sorted(ctx.parent_statuses.items()))
    if payload.alloc_mb:
        # A mapping of its own, each time (malloc would reuse what it freed): the pages a
        # try needs anew, touched, then given back.
        with mmap.mmap(-1, payload.alloc_mb << 20) as pages:
            pages[:: mmap.PAGESIZE] = b"x" * (len(pages) // mmap.PAGESIZE)
    return await _run(ctx, payload.sleep_s, parents=parents)


@job(max_tries=MAX_TRIES, backoff_base=0.05, backoff_max=0.2, concurrency=1, concurrency_key="key")
async def chaos_serial(ctx: JobContext, payload: Serial) -> Done:
    """One at a time per key: tries of one key never overlap but as the lease model allows."""
    return await _run(ctx, payload.sleep_s, group=payload.key, seq=payload.seq)


@job(max_tries=MAX_TRIES, backoff_base=0.05, backoff_max=0.2, rate_limit=RATE_LIMIT, rate_key="key")
async def chaos_rated(ctx: JobContext, payload: Rated) -> Done:
    """Rate-limited per key; records when the limiter admitted this try (server µs)."""
    state = keys.of_job(ctx.job_id).state(ctx.job_id)
    admitted = await ctx.redis.hget(state, "admitted")  # type: ignore[misc]
    return await _run(
        ctx, 0.01, group=payload.key, seq=payload.seq, admitted=(admitted or b"").decode()
    )


@job(max_tries=MAX_TRIES, backoff_base=0.05, backoff_max=0.2)
async def chaos_callback(ctx: JobContext, payload: Callback) -> Done:
    """A batch's `on_complete`: records what it was released with."""
    batch = ctx.batch or {}
    final = sum(int(batch.get(k, 0)) for k in ("complete", "failed", "aborted"))
    return await _run(
        ctx, 0.02, batch=str(batch.get("id", "")), total=int(batch.get("total", 0)), final=final
    )
