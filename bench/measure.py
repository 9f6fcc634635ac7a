"""Measure one system (run by its own virtualenv's interpreter): `python -m bench.measure`.

Phases, all against the same queue server (`--redis`), job bookkeeping on `--tally`:
- drain with 1 worker: pre-enqueue N no-op jobs (timed: enqueue throughput), CONFIG RESETSTAT,
  start the worker, wait until every job ran; job start times give drain throughput,
  INFO commandstats gives commands per job, psutil the worker's peak RSS.
- pickup latency, on that same (now idle) worker: jobs sent one by one `gap` apart.
- drain with 2 workers.
Every job's index is HINCRBY-counted: missing and duplicate runs are reported.
Each drain also reports the queue server's CPU per job (enqueue apart from claim+run+finish),
its commands per job for the enqueue, and the memory it keeps per finished job
(`bench.redis_cost`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import traceback
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench import redis_cost, systems
from bench.procs import Workers
from bench.stats import summarize


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.system = systems.get(args.system)
        self.r = aioredis.Redis.from_url(args.redis)
        self.tally = aioredis.Redis.from_url(args.tally)
        self.log_dir = Path(args.log_dir)
        self.worker_cpu: tuple[float, int] = (0.0, 0)

    def workers(self, count: int, tag: str) -> Workers:
        env = {
            "BENCH_REDIS_URL": self.args.redis,
            "BENCH_TALLY_URL": self.args.tally,
            **self.system.worker_env(),
        }
        return Workers(
            self.system.worker_argv(), env, count, self.log_dir, f"{self.args.system}-{tag}"
        )

    async def reset(self) -> None:
        await self.r.flushdb()
        await self.tally.flushdb()

    async def enqueue_all(self, n: int, key: str) -> float:
        t0 = time.perf_counter()
        for i in range(n):
            await self.system.enqueue(i, key, True)
        return n / (time.perf_counter() - t0)

    async def wait_seen(self, key: str, n: int, workers: Workers, cap_s: float) -> int:
        """Wait until `n` jobs ran; meanwhile the workers' CPU from the first job seen on
        (start-up left out) goes to `self.worker_cpu` as (CPU s, jobs)."""
        deadline = time.monotonic() + cap_s
        last_rss = 0.0
        first: tuple[float, int] | None = None
        self.worker_cpu = (0.0, 0)
        while True:
            seen = int(await self.tally.hlen(f"{key}:seen"))
            if first is None and seen:
                first = (workers.cpu_s(), seen)
            if time.monotonic() - last_rss > 0.05:
                workers.sample_rss()
                last_rss = time.monotonic()
            if seen >= n or time.monotonic() > deadline or not workers.alive():
                if first is not None:
                    self.worker_cpu = (workers.cpu_s() - first[0], seen - first[1])
                return seen
            await asyncio.sleep(0.01)

    async def check(self, key: str, n: int) -> dict[str, int]:
        await asyncio.sleep(0.2)  # let a late duplicate show up
        counts = [int(v) for v in (await self.tally.hgetall(f"{key}:seen")).values()]
        return {"expected": n, "done": len(counts), "duplicates": sum(c - 1 for c in counts)}

    async def commandstats(self) -> dict[str, int]:
        return await redis_cost.commandstats(self.r)

    async def drain(self, count: int, keep: bool) -> tuple[dict[str, Any], Workers]:
        n, key = self.args.n, f"drain{count}"
        await self.reset()
        before = await redis_cost.snapshot(self.r)
        await self.r.config_resetstat()
        enqueue_rate = await self.enqueue_all(n, key)
        enqueue_calls = await self.commandstats()
        enqueued = await redis_cost.snapshot(self.r)
        await self.r.config_resetstat()
        workers = self.workers(count, f"drain{count}")
        workers.start()
        seen = await self.wait_seen(key, n, workers, self.args.cap)
        finished_at = time.time()
        calls = await self.commandstats()
        workers.sample_rss()
        crashed = not workers.alive()
        if not keep or crashed:
            workers.stop()
        starts = sorted(float(v) for v in (await self.tally.hvals(f"{key}:start")))
        result: dict[str, Any] = {
            "workers": count,
            "enqueue_jobs_per_s": enqueue_rate,
            **await self.check(key, n),
            "crashed": crashed,
        }
        finished = await redis_cost.snapshot(self.r)  # after check(): the last finish is in
        result["redis_cpu_enqueue_us_per_job"] = redis_cost.cpu_us_per_job(before, enqueued, n)
        result["redis_cpu_drain_us_per_job"] = redis_cost.cpu_us_per_job(
            enqueued, finished, max(seen, 1)
        )
        result["enqueue_commands_per_job"] = sum(enqueue_calls.values()) / n
        result["kept_bytes_per_job"] = redis_cost.kept_bytes_per_job(before, finished, n)
        if count == 1:  # after every figure above: this scan costs the server too
            result["kept_short_lived_bytes_per_job"] = (
                await redis_cost.short_lived_bytes(self.r) / n
            )
        if len(starts) > 1:
            span = starts[-1] - starts[0]
            result["jobs_per_s"] = (len(starts) - 1) / span if span > 0 else None
            result["startup_s"] = starts[0] - workers.started_at
            result["wall_s"] = finished_at - workers.started_at
        result["timed_out"] = seen < n and not crashed
        total = sum(calls.values())
        result["redis_calls"] = total
        result["commands_per_job"] = total / max(seen, 1)
        result["top_commands"] = dict(sorted(calls.items(), key=lambda kv: -kv[1])[:8])
        result["peak_rss_mb"] = max(workers.peak_rss) / 2**20
        cpu_s, jobs = self.worker_cpu
        # Worker processes' CPU per job from the first job seen to the last (all processes):
        # what bounds one worker's jobs/s when it has a core of its own.
        result["worker_cpu_us_per_job"] = cpu_s * 1e6 / jobs if jobs else None
        return result, workers

    async def latency(self) -> dict[str, Any]:
        count, gap, key = self.args.lat_count, self.args.lat_gap, "lat"
        await asyncio.sleep(1.0)  # the worker is idle now
        enqueued: list[float] = []
        t0 = time.perf_counter()
        for i in range(count):
            delay = t0 + i * gap - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            enqueued.append(time.time())
            await self.system.enqueue(i, key, True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if int(await self.tally.hlen(f"{key}:seen")) >= count:
                break
            await asyncio.sleep(0.05)
        started = {int(k): float(v) for k, v in (await self.tally.hgetall(f"{key}:start")).items()}
        lat_ms = [(started[i] - enqueued[i]) * 1000 for i in range(count) if i in started]
        return {**summarize(lat_ms), **await self.check(key, count), "gap_ms": gap * 1000}

    async def run(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "system": self.args.system,
            "label": self.system.label,
            "config": self.system.config(),
            "drains": {},
            "errors": [],
        }
        await self.system.open(self.args.redis)
        await redis_cost.prepare(self.r)
        try:
            for count in self.args.workers:
                workers = None
                try:
                    drain, workers = await self.drain(count, keep=count == 1)
                    out["drains"][str(count)] = drain
                    if count == 1 and workers.alive():
                        await self.tally.flushdb()
                        out["latency"] = await self.latency()
                except Exception:
                    out["errors"].append(traceback.format_exc())
                finally:
                    if workers is not None:
                        workers.stop()
        finally:
            await self.system.close()
            await self.r.aclose()
            await self.tally.aclose()
        return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--system", required=True, choices=sorted(systems.SYSTEMS))
    p.add_argument("--redis", required=True)
    p.add_argument("--tally", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    p.add_argument("--cap", type=float, default=90.0, help="longest a drain may take (s)")
    p.add_argument("--lat-count", type=int, default=200)
    p.add_argument("--lat-gap", type=float, default=0.02)
    p.add_argument("--log-dir", default=os.path.join(os.path.dirname(__file__), "results", "logs"))
    args = p.parse_args()
    result = asyncio.run(Bench(args).run())
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
