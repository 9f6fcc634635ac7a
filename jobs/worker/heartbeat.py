"""Worker heartbeats: who is alive, what it is doing; read by `/ready`, `/queues`, metrics."""

import os
import socket
import uuid
from collections.abc import Sequence
from typing import Any

from jobs.layout import keys
from jobs.layout.connection import RedisClient, server_ms
from jobs.layout.serialization import deserialize, serialize

STALE_AFTER_S = 30.0


async def beat(
    redis: RedisClient,
    worker_id: str,
    queues: Sequence[keys.QueueKeys],
    interval_s: float,
    info: dict[str, Any],
) -> None:
    # The server's clock, as for leases: a worker whose clock is minutes ahead would otherwise
    # drop every other worker from the registry below, and one behind would never be listed.
    now_ms = await server_ms(redis)
    ttl_ms = int(max(interval_s * 3, 10) * 1000)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(keys.WORKERS, {worker_id: now_ms})
        pipe.zremrangebyscore(keys.WORKERS, 0, now_ms - STALE_AFTER_S * 1000 * 10)
        pipe.set(
            keys.WORKER + worker_id,
            serialize({**info, "id": worker_id, "at": now_ms}),
            px=ttl_ms,
        )
        # ARQ's sentinel, so that `arq --check jobs.worker.WorkerSettings` works.
        for q in queues:
            pipe.set(q.health_check, f"worker={worker_id} {info}", px=ttl_ms)
        await pipe.execute()


async def leave(redis: RedisClient, worker_id: str) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zrem(keys.WORKERS, worker_id)
        pipe.delete(keys.WORKER + worker_id)
        await pipe.execute()


async def live_workers(redis: RedisClient) -> dict[str, float]:
    """Worker id -> seconds since its last heartbeat, for workers seen in the last 30 s."""
    now_ms = await server_ms(redis)
    members = await redis.zrangebyscore(
        keys.WORKERS, now_ms - STALE_AFTER_S * 1000, "+inf", withscores=True
    )
    return {m.decode(): (now_ms - score) / 1000 for m, score in members}


async def worker_details(redis: RedisClient, worker_ids: list[str]) -> list[dict[str, Any]]:
    """The latest heartbeat JSON of each worker (missing ones skipped)."""
    if not worker_ids:
        return []
    # One GET each in a pipeline, not MGET: on a cluster the workers' keys live in different
    # slots, and MGET across slots is refused.
    async with redis.pipeline(transaction=False) as pipe:
        for w in worker_ids:
            pipe.get(keys.WORKER + w)
        raw = await pipe.execute()
    return [deserialize(r) for r in raw if r]


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
