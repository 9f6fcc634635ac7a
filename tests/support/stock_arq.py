"""A stock ARQ producer, for the tests that check its jobs still run (single Redis only)."""

from typing import Any, cast

from arq.connections import ArqRedis
from arq.jobs import Job

from jobs.layout.connection import RedisClient


async def stock_enqueue(redis: RedisClient, function: str, *args: Any, **kwargs: Any) -> Job:
    """`ArqRedis.enqueue_job`, as a service that still uses stock ARQ would call it."""
    job = await cast(ArqRedis, redis).enqueue_job(function, *args, **kwargs)
    assert job is not None
    return job
