"""What every benchmark job does: record that it ran, on a separate "tally" server.

The tally server is not the server the queues live on, so the job's own bookkeeping does not
show up in the queue server's `INFO commandstats` (commands per job counts only the system).

Keys, under a per-phase prefix `key`:
- `{key}:seen`  hash  job index -> times run (HINCRBY: duplicates are counted, not hidden)
- `{key}:start` hash  job index -> time.time() at job start (latency phase only)
"""

from __future__ import annotations

import os
import time
from typing import Any

import redis.asyncio as aioredis

_client: Any = None


def client() -> Any:
    """One asyncio client per worker process, from env `BENCH_TALLY_URL`."""
    global _client
    if _client is None:
        _client = aioredis.Redis.from_url(os.environ["BENCH_TALLY_URL"])
    return _client


async def record(idx: int, key: str, stamp: bool) -> None:
    started = time.time()
    tally = client()
    if stamp:
        async with tally.pipeline(transaction=False) as pipe:
            pipe.hincrby(f"{key}:seen", str(idx), 1)
            pipe.hset(f"{key}:start", str(idx), repr(started))
            await pipe.execute()
    else:
        await tally.hincrby(f"{key}:seen", str(idx), 1)
