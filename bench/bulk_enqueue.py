"""Bulk enqueue from one Python producer: `jobs.enqueue.submit.enqueue_many` (chunks of
`BULK_CHUNK`).

`python -m bench.bulk_enqueue --redis URL [--n 20000]` (the queue server's db is FLUSHDB'd).
One producer, one `enqueue_many` call over N payloads built beforehand (what a caller hands
over); jobs/s is N over that call's wall time, the median of 3 such calls. The queue
server's CPU and commands per job for the same calls come from `bench.redis_cost`. Nothing
drains the jobs: they are flushed after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from bench import redis_cost
from bench.systems.ours import JOB_MODULE
from jobs.enqueue.submit import BULK_CHUNK, enqueue_many
from jobs.layout.connection import create_redis
from settings import Settings

JOB = "bench_noop"


def open_ours(redis_url: str) -> tuple[Any, Any]:
    """(client, settings) of our service for `redis_url`, with the bench job in its catalog."""
    settings = Settings(redis_url=redis_url, job_modules=[JOB_MODULE])
    return create_redis(settings), settings


def payloads(n: int, key: str, stamp: bool = True) -> list[dict[str, Any]]:
    return [{"idx": i, "key": key, "stamp": stamp} for i in range(n)]


async def enqueue_bulk(
    redis: Any, settings: Any, items: list[dict[str, Any]], queue: str | None = None
) -> float:
    """Enqueue `items` with one `enqueue_many` call; jobs/s."""
    t0 = time.perf_counter()
    done = await enqueue_many(redis, JOB, items, queue=queue, settings=settings)
    elapsed = time.perf_counter() - t0
    assert len(done) == len(items)
    return len(items) / elapsed


async def run(redis_url: str, n: int, repeat: int = 3) -> dict[str, Any]:
    """`repeat` timed calls of N jobs each (an empty queue every time); medians."""
    redis, settings = open_ours(redis_url)
    rates, cpus, cmds = [], [], []
    try:
        await redis.flushdb()
        await redis_cost.prepare(redis)
        await enqueue_bulk(redis, settings, payloads(BULK_CHUNK, "warm"))  # scripts, catalog
        for _ in range(repeat):
            await redis.flushdb()
            items = payloads(n, "bulk")
            before = await redis_cost.snapshot(redis)
            await redis.config_resetstat()
            rates.append(await enqueue_bulk(redis, settings, items))
            calls = await redis_cost.commandstats(redis)
            after = await redis_cost.snapshot(redis)
            cpus.append(redis_cost.cpu_us_per_job(before, after, n))
            cmds.append(sum(calls.values()) / n)
        await redis.flushdb()
        return {
            "n": n,
            "chunk": BULK_CHUNK,
            "repeat": repeat,
            "jobs_per_s": statistics.median(rates),
            "jobs_per_s_max": max(rates),
            "redis_cpu_us_per_job": statistics.median(cpus),
            "commands_per_job": statistics.median(cmds),
        }
    finally:
        await redis.aclose()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--redis", required=True, help="queue server (its db is FLUSHDB'd)")
    p.add_argument("--n", type=int, default=20_000)
    args = p.parse_args()
    print(json.dumps(asyncio.run(run(args.redis, args.n)), indent=2))


if __name__ == "__main__":
    main()
