"""`POST /jobs/ping/bulk` (arrays of `size` items) vs single `POST /jobs/ping`, one web process.

`python -m bench.http_bulk --redis URL` (the queue server's db is FLUSHDB'd). One
`uvicorn service.main:app --workers 1` serves both phases, back to back: single POSTs from
`conc` clients (as `bench.http_bench`), then bulk POSTs from `bulk_conc` clients. Both give jobs/s
and the server process's CPU per job (psutil): on a small machine the load generator shares
the CPU, so CPU per job is the figure that does not depend on it. Nothing drains the jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis.asyncio as aioredis

from bench.http_bench import APPS, PING_BODY, load, wait_up
from bench.procs import Workers
from bench.redis_server import free_port

LOG_DIR = Path(__file__).resolve().parent / "results" / "logs"


async def phase(
    clients: list[httpx.AsyncClient],
    proc: psutil.Process,
    url: str,
    requests: int,
    body: Any,
    jobs_per_request: int,
) -> dict[str, Any]:
    cpu0 = sum(proc.cpu_times()[:2])
    result = await load(clients, url, requests, body)
    cpu_s = sum(proc.cpu_times()[:2]) - cpu0
    jobs = requests * jobs_per_request
    result.update(
        jobs=jobs,
        items_per_request=jobs_per_request,
        jobs_per_s=result["req_per_s"] * jobs_per_request,
        server_cpu_ms_per_job=cpu_s * 1000 / jobs,
    )
    return result


async def run(
    redis_url: str,
    single_requests: int = 3000,
    conc: int = 32,
    bulk_requests: int = 60,
    size: int = 500,
    bulk_conc: int = 4,
    log_dir: Path = LOG_DIR,
) -> dict[str, Any]:
    r = aioredis.Redis.from_url(redis_url)
    await r.flushdb()
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", APPS["ours"], "--port", str(port)]
    argv += ["--workers", "1", "--no-access-log"]
    server = Workers(argv, {"REDIS_URL": redis_url}, 1, log_dir, "http-bulk")
    server.start()
    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(limits=limits, timeout=60) for _ in range(max(conc, bulk_conc))]
    batch = [PING_BODY] * size
    try:
        await wait_up(clients[0], base + "/", server, 30)
        await load(clients[:conc], base + "/jobs/ping", min(500, single_requests))  # warm-up
        await load(clients[:bulk_conc], base + "/jobs/ping/bulk", 4, batch)
        proc = psutil.Process(server.procs[0].pid)
        out = {
            "single": await phase(
                clients[:conc], proc, base + "/jobs/ping", single_requests, PING_BODY, 1
            ),
            "bulk": await phase(
                clients[:bulk_conc], proc, base + "/jobs/ping/bulk", bulk_requests, batch, size
            ),
        }
        out["bulk"]["concurrency"] = bulk_conc
        server.sample_rss()
        out["server_rss_mb"] = server.peak_rss[0] / 2**20
        return out
    finally:
        for c in clients:
            await c.aclose()
        server.stop()
        await r.flushdb()
        await r.aclose()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--redis", required=True, help="queue server (its db is FLUSHDB'd)")
    p.add_argument("--single", type=int, default=3000, help="single POSTs")
    p.add_argument("--bulk", type=int, default=60, help="bulk POSTs")
    p.add_argument("--size", type=int, default=500, help="items per bulk POST")
    args = p.parse_args()
    result = asyncio.run(run(args.redis, args.single, bulk_requests=args.bulk, size=args.size))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
