"""Enqueue over HTTP: `POST /jobs/ping` on our service vs a bare FastAPI 202 endpoint.

Both run as `python -m uvicorn APP --port P --workers 1 --no-access-log` subprocesses; load
comes from `conc` httpx.AsyncClients of one connection each (one shared pool of 32 connections
is several times slower in httpx 0.28), a fixed request count. On a small machine the Python
load generator is often the bottleneck: the server's CPU time per request (psutil) is the
figure that does not depend on it.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis.asyncio as aioredis

from bench.procs import ROOT, Workers
from bench.redis_server import free_port
from bench.stats import summarize

APPS = {"ours": "service.main:app", "bare_fastapi": "bench.workers.bare_app:app"}
PING_BODY: dict[str, Any] = {"message": "bench"}


async def wait_up(client: httpx.AsyncClient, url: str, server: Workers, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await client.get(url)
            return
        except httpx.TransportError:
            if not server.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server at {url} did not come up") from None
            await asyncio.sleep(0.1)


async def load(
    clients: list[httpx.AsyncClient], url: str, total: int, body: Any = PING_BODY
) -> dict[str, Any]:
    """`total` POSTs of `body` to `url`, spread over `clients` (one request at a time each)."""
    todo = iter(range(total))
    lat_ms: list[float] = []
    codes: Counter[int] = Counter()

    async def user(client: httpx.AsyncClient) -> None:
        for _ in todo:
            t0 = time.perf_counter()
            r = await client.post(url, json=body)
            lat_ms.append((time.perf_counter() - t0) * 1000)
            codes[r.status_code] += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(user(c) for c in clients))
    elapsed = time.perf_counter() - t0
    return {
        "requests": total,
        "concurrency": len(clients),
        "req_per_s": total / elapsed,
        **summarize(lat_ms),
        "status": {str(k): v for k, v in codes.items()},
    }


async def bench_app(
    name: str, redis_url: str, total: int, conc: int, log_dir: Path
) -> dict[str, Any]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        APPS[name],
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
    ]
    server = Workers(argv, {"REDIS_URL": redis_url}, 1, log_dir, f"http-{name}")
    server.start()
    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(limits=limits, timeout=30) for _ in range(conc)]
    try:
        await wait_up(clients[0], base + "/", server, 30)
        await load(clients, base + "/jobs/ping", min(500, total))  # warm-up
        proc = psutil.Process(server.procs[0].pid)
        cpu0 = sum(proc.cpu_times()[:2])
        result = await load(clients, base + "/jobs/ping", total)
        result["server_cpu_ms_per_req"] = (sum(proc.cpu_times()[:2]) - cpu0) * 1000 / total
        server.sample_rss()
        result["server_rss_mb"] = server.peak_rss[0] / 2**20
        return result
    finally:
        for c in clients:
            await c.aclose()
        server.stop()


async def run(
    redis_url: str, total: int, conc: int, log_dir: Path, rounds: int = 5
) -> dict[str, Any]:
    """Each app `rounds` times, interleaved (drift hits both alike); per-figure medians, and
    each round's server CPU per request next to them. The CPU ratio is paired: ours over
    bare within each round (a minute apart at most), then the median of those, so a slow
    minute of the machine counts against both sides alike."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in APPS}
    out: dict[str, Any] = {}
    r = aioredis.Redis.from_url(redis_url)
    try:
        for _ in range(rounds):
            for name in APPS:
                await r.flushdb()
                try:
                    runs[name].append(await bench_app(name, redis_url, total, conc, log_dir))
                except Exception as exc:  # reported, the rest of the bench goes on
                    out[name] = {"error": repr(exc)}
        await r.flushdb()
    finally:
        await r.aclose()
    for name, done in runs.items():
        if name in out or not done:
            continue
        merged = {
            k: statistics.median(v[k] for v in done)
            if isinstance(done[0][k], int | float) and not isinstance(done[0][k], bool)
            else done[0][k]
            for k in done[0]
        }
        merged["server_cpu_ms_per_req_rounds"] = [d["server_cpu_ms_per_req"] for d in done]
        out[name] = merged
    if all(name in out and "error" not in out[name] for name in APPS):
        ratios = [
            ours["server_cpu_ms_per_req"] / bare["server_cpu_ms_per_req"]
            for ours, bare in zip(runs["ours"], runs["bare_fastapi"], strict=False)
        ]
        out["server_cpu_ratio_rounds"] = ratios
        out["server_cpu_ratio"] = statistics.median(ratios)
    return out


if __name__ == "__main__":
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    print(asyncio.run(run(url, 2000, 32, ROOT / "bench" / "results" / "logs")))
