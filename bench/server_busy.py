"""What the queue server spends per job when it is busy, and when it idles between calls.

`python -m bench.server_busy --redis URL [--n 20000] [--batch 30] [--drivers 3]`

The Redis CPU per job target was set against a figure read where a single Redis core
saturated (12 worker processes on 16 cores). On 2 cores no number of worker processes gets
there: one worker spends many times the server's CPU per job, so the server idles most of a
1-worker drain, and after each idle stretch it runs its next call on cold caches (and a vCPU
woken from a halt). The same calls cost the server far more per job then (measured below:
`paced`).

So this part calls the worker's own scripts (`claim.lua` with the worker's `Claimer`
arguments, `finish.lua` with the `Finisher`'s rows) back to back, without running jobs, from
`drivers` concurrent callers of `batch` jobs per call (by default the batches a busy worker
makes in the 1-worker drain), so that the server always has a call queued: the condition of
a saturated server. Then once more with a single caller that pauses 5 ms
between calls (a 1-worker drain's rhythm). Per job: server CPU (`INFO cpu`), its commands, and
the share of wall time the server was busy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import redis.asyncio as aioredis

from bench import bulk_enqueue, redis_cost
from bench.systems.ours import JOB_MODULE
from jobs.layout import scripts
from jobs.layout.connection import create_redis
from jobs.layout.records import LeaseToken
from jobs.worker.claim import Claimer
from jobs.worker.queue_order import ServedQueues
from jobs.worker.settle import Finisher, Settle
from settings import Settings

RESULT = b'{"t":1,"f":"bench_noop","a":[],"s":true,"r":{},"st":0,"w":"w"'
"""A settled no-op's result (open JSON, as `jobs.layout.records.result_data` makes it)."""
RESULT_TTL_MS = 86_400_000


async def _driver(
    redis: Any, name: str, queues: list[str], batch: int, pause_s: float, counts: list[int]
) -> None:
    """Claim `batch` from each queue in turn, settle them all `complete`, until a whole round
    finds every queue empty."""
    claimer = Claimer(redis, name, ServedQueues.parse(",".join(queues), queues[0]), 30_000, False)
    claim, finish = scripts.script("claim"), scripts.script("finish")
    finisher = Finisher(redis, legacy=False)
    while True:
        took = 0
        for q in claimer.served.queues:
            claim_id = claimer.new_claim_id()
            reply = await claim(redis, *claimer.claim_call(q, batch, claim_id))
            # Only the ids and the token (`Claimer.parse` also decodes every definition: the
            # caller's CPU, which would leave the server idle more of the time).
            taken = reply[3::3]
            if not taken:
                continue
            claimer.confirm(q, claim_id)
            token = LeaseToken(name, int(reply[2]), claim_id).encode()
            rows = [
                Settle.final("complete", job_id.decode(), token, RESULT, RESULT_TTL_MS, False)
                for job_id in taken
            ]
            lost = await finisher.store(rows, finish)
            assert not lost, lost
            counts.append(len(taken))
            took += len(taken)
            if pause_s:
                await asyncio.sleep(pause_s)
        if not took:
            return


async def drain(
    settings: Settings,
    nodes: list[Any],
    n: int,
    *,
    queues: list[str] | None = None,
    batch: int = 30,
    drivers: int = 3,
    pause_s: float = 0.0,
) -> dict[str, Any]:
    """`n` no-op jobs spread over `queues`, claimed and settled by `drivers` callers; `nodes`:
    a client per server (every primary of a cluster), whose CPU is summed."""
    queues = queues or [settings.queue_name]
    redis = create_redis(settings)
    clients = [create_redis(settings) for _ in range(drivers)]
    try:
        for node in nodes:
            await node.flushdb()
            await redis_cost.prepare(node)
        per_queue = n // len(queues)
        for i, queue in enumerate(queues):
            items = bulk_enqueue.payloads(per_queue, f"busy{i}")
            await bulk_enqueue.enqueue_bulk(redis, settings, items, queue=queue)
        total = per_queue * len(queues)
        for node in nodes:
            await node.config_resetstat()
        before = [await redis_cost.snapshot(node) for node in nodes]
        counts: list[int] = []
        t0 = time.perf_counter()
        await asyncio.gather(
            *(_driver(c, f"busy{i}", queues, batch, pause_s, counts) for i, c in enumerate(clients))
        )
        wall = time.perf_counter() - t0
        after = [await redis_cost.snapshot(node) for node in nodes]
        calls = 0
        for node in nodes:
            calls += sum((await redis_cost.commandstats(node)).values())
        done = sum(counts)
        cpu = [a["cpu_s"] - b["cpu_s"] for b, a in zip(before, after, strict=True)]
        return {
            "jobs": done,
            "complete": done == total,
            "servers": len(nodes),
            "queues": len(queues),
            "drivers": drivers,
            "batch": batch,
            "pause_ms": pause_s * 1000,
            "redis_cpu_us_per_job": sum(cpu) * 1e6 / max(done, 1),
            "busiest_server_cpu_us_per_job": max(cpu) * 1e6 / max(done, 1),
            "commands_per_job": calls / max(done, 1),
            "server_busy_share": max(cpu) / wall,
            "jobs_per_s": done / wall,
        }
    finally:
        for c in clients:
            await c.aclose()
        await redis.aclose()


async def run(redis_url: str, n: int, batch: int = 30, drivers: int = 3) -> dict[str, Any]:
    settings = Settings(redis_url=redis_url, job_modules=[JOB_MODULE])
    node = aioredis.Redis.from_url(redis_url)
    try:
        return {
            "busy": await drain(settings, [node], n, batch=batch, drivers=drivers),
            "paced": await drain(
                settings, [node], min(n, 5_000), batch=batch, drivers=1, pause_s=0.005
            ),
        }
    finally:
        await node.aclose()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--redis", required=True, help="queue server (its db is FLUSHDB'd)")
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=30)
    p.add_argument("--drivers", type=int, default=3)
    a = p.parse_args()
    print(json.dumps(asyncio.run(run(a.redis, a.n, a.batch, a.drivers)), indent=2))


if __name__ == "__main__":
    main()
