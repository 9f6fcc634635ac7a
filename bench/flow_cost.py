"""What flow control costs: `python -m bench.flow_cost [--redis URL --tally URL]`.

- **Drain with a limit never reached**: N no-op jobs enqueued in bulk, then one
  `python -m jobs` drains them; `bench_noop` (no limit) and `bench_noop_limited`
  (`concurrency=1000`, the same no-op) alternate over `--rounds` rounds on the same servers.
  jobs/s = jobs between the first and the last job start (as `bench.measure`), the queue
  server's CPU (`INFO cpu`) and commands per job for the drain (claim + run + finish) and for
  the bulk enqueue. The ratio is limited ÷ plain of the medians.
- **Pickup of a job released by a freed slot**: `bench_one_at_a_time` (`concurrency=1`): A
  (holding 10 ms) and B enqueued together; the worker starts A and B is held at the gate; A's
  settle frees the slot to B (finish.lua) and wakes the worker. Latency = B's start (its claim,
  `started_at`) - A's settle (`finished_at`), both the server's clock at 1 ms resolution (the
  scripts store ms: a difference is within 1 ms of the truth). Next to it, A's own end to B's
  own start by the server's clock in µs, read inside the jobs: that one includes the worker's
  settle linger (up to 5 ms, `jobs.worker.capacity`) and the task start.

Without `--redis`, two embedded Valkey servers are started (queue, tally); both are FLUSHDB'd.
Writes results/flow_cost.json.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench import redis_cost, standalone
from bench.procs import Workers
from bench.stats import summarize
from jobs.enqueue.submit import enqueue_many
from jobs.layout.connection import create_redis
from jobs.reading.job_record import load_jobs
from settings import Settings

HERE = Path(__file__).resolve().parent
MODULES = "bench.workers.ours_jobs,bench.workers.flow_jobs"
PLAIN, LIMITED, GATED = "bench_noop", "bench_noop_limited", "bench_one_at_a_time"


class FlowCost:
    def __init__(
        self, redis_url: str, tally_url: str, log_dir: Path, modules: str = MODULES
    ) -> None:
        self.redis_url, self.tally_url, self.log_dir = redis_url, tally_url, log_dir
        self.modules = modules
        self.settings = Settings(redis_url=redis_url, job_modules=modules.split(","))
        self.r = create_redis(self.settings)
        self.tally = aioredis.Redis.from_url(tally_url)

    def worker(self, tag: str) -> Workers:
        env = {
            "REDIS_URL": self.redis_url,
            "BENCH_TALLY_URL": self.tally_url,
            "JOB_MODULES": self.modules,
            "LOG_LEVEL": "WARNING",
        }
        return Workers([sys.executable, "-m", "jobs"], env, 1, self.log_dir, f"flow-{tag}")

    async def close(self) -> None:
        await self.r.aclose()
        await self.tally.aclose()

    async def drain(self, job: str, n: int, key: str, tenants: int | None = None) -> dict[str, Any]:
        """`tenants`: each payload also gets `tenant` = idx % tenants (`bench.fair_cost`)."""
        await self.r.flushdb()
        await self.tally.flushdb()
        payloads: list[dict[str, Any]] = [{"idx": i, "key": key, "stamp": True} for i in range(n)]
        if tenants:
            for p in payloads:
                p["tenant"] = p["idx"] % tenants
        before = await redis_cost.snapshot(self.r)
        await self.r.config_resetstat()
        await enqueue_many(self.r, job, payloads, settings=self.settings)
        enqueue_calls = sum((await redis_cost.commandstats(self.r)).values())
        enqueued = await redis_cost.snapshot(self.r)
        await self.r.config_resetstat()
        workers = self.worker(key)
        workers.start()
        try:
            deadline = time.monotonic() + 120
            while int(await self.tally.hlen(f"{key}:seen")) < n:
                if time.monotonic() > deadline or not workers.alive():
                    raise RuntimeError(f"{job}: drain did not finish")
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)  # the last settle, and any duplicate
            by_command = await redis_cost.commandstats(self.r)
            calls = sum(by_command.values())
            done = await redis_cost.snapshot(self.r)
        finally:
            workers.stop()
        starts = sorted(float(v) for v in await self.tally.hvals(f"{key}:start"))
        seen = [int(v) for v in (await self.tally.hgetall(f"{key}:seen")).values()]
        return {
            "job": job,
            "jobs_per_s": (len(starts) - 1) / (starts[-1] - starts[0]),
            "redis_cpu_drain_us_per_job": redis_cost.cpu_us_per_job(enqueued, done, n),
            "redis_cpu_enqueue_us_per_job": redis_cost.cpu_us_per_job(before, enqueued, n),
            "commands_per_job_drain": calls / n,
            "commands_per_job_enqueue": enqueue_calls / n,
            "exactly_once": len(seen) == n and all(c == 1 for c in seen),
            "drain_commands_per_job": {
                name: round(count / n, 2)
                for name, count in sorted(by_command.items(), key=lambda kv: -kv[1])[:12]
            },
        }

    async def release_latency(self, samples: int) -> dict[str, Any]:
        await self.r.flushdb()
        await self.tally.flushdb()
        workers = self.worker("release")
        workers.start()
        settle_ms: list[float] = []
        own_ms: list[float] = []
        key = "rel"
        try:
            for i in range(samples + 5):  # the first 5 warm the worker up
                first, second = await enqueue_many(
                    self.r,
                    GATED,
                    [{"idx": 2 * i, "key": key, "hold_s": 0.01}, {"idx": 2 * i + 1, "key": key}],
                    settings=self.settings,
                )
                deadline = time.monotonic() + 10
                while not await self.tally.hexists(f"{key}:span", str(2 * i + 1)):
                    if time.monotonic() > deadline or not workers.alive():
                        raise RuntimeError("the released job did not run")
                    await asyncio.sleep(0.002)
                a, b = await load_jobs(self.r, [first.job_id, second.job_id], {})
                deadline = time.monotonic() + 5
                while b is None or b.finished_at is None:  # B's record, once it settled
                    if time.monotonic() > deadline:
                        raise RuntimeError("the released job did not settle")
                    await asyncio.sleep(0.002)
                    a, b = await load_jobs(self.r, [first.job_id, second.job_id], {})
                if i < 5:
                    continue
                assert a is not None and a.finished_at and b.started_at
                settle_ms.append((b.started_at - a.finished_at).total_seconds() * 1000)
                spans = await self.tally.hmget(f"{key}:span", [str(2 * i), str(2 * i + 1)])
                a_end = int(spans[0].split()[1])
                b_start = int(spans[1].split()[0])
                own_ms.append((b_start - a_end) / 1000)
        finally:
            workers.stop()
        return {
            "samples": samples,
            "settle_to_start_ms": summarize(settle_ms),
            "job_end_to_job_start_ms": summarize(own_ms),
        }


async def run(
    redis_url: str, tally_url: str, n: int, rounds: int, samples: int, log_dir: Path
) -> dict[str, Any]:
    bench = FlowCost(redis_url, tally_url, log_dir)
    try:
        await redis_cost.prepare(bench.r)
        drains: dict[str, list[dict[str, Any]]] = {PLAIN: [], LIMITED: []}
        for r in range(rounds):
            order = (PLAIN, LIMITED) if r % 2 == 0 else (LIMITED, PLAIN)
            for job in order:
                drains[job].append(await bench.drain(job, n, f"{job}-{r}"))

        def median(job: str, figure: str) -> float:
            return statistics.median(d[figure] for d in drains[job])

        figures = (
            "jobs_per_s",
            "redis_cpu_drain_us_per_job",
            "redis_cpu_enqueue_us_per_job",
            "commands_per_job_drain",
            "commands_per_job_enqueue",
        )
        out: dict[str, Any] = {
            "n": n,
            "rounds": rounds,
            "median": {job: {f: median(job, f) for f in figures} for job in drains},
            "drains": drains,
            "exactly_once": all(d["exactly_once"] for ds in drains.values() for d in ds),
        }
        out["ratio_jobs_per_s"] = median(LIMITED, "jobs_per_s") / median(PLAIN, "jobs_per_s")
        out["release"] = await bench.release_latency(samples)
        return out
    finally:
        await bench.close()


def main() -> None:
    standalone.main(
        "flow_cost",
        run,
        n=5000,
        n_help="jobs per drain",
        samples=200,
        samples_help="released jobs timed",
    )


if __name__ == "__main__":
    main()
