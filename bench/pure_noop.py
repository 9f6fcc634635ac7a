"""One worker process draining jobs that do nothing at all: the worker's own cost per job.

`python -m bench.pure_noop --redis URL [--n 20000]`

The drains of `bench.measure` and `bench.scale` run `bench_noop`, which records its run on the
tally server (exactly-once is checked there): one Redis round trip per job, inside the job,
which on this VM costs the worker more CPU than everything else it does for a job. Here the
job is `bench_pass` (returns at once), and the queue's own records are the check: every job
has a `complete` result of one try (`t` = 1: a second run would count a second try).
Throughput is first to last job start from those results (`st`, the server's clock, ms);
worker CPU (psutil) from the first settle seen to the last, per job settled meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench import bulk_enqueue, redis_cost
from bench.procs import Workers
from bench.systems.ours import JOB_MODULE
from jobs.enqueue.submit import enqueue_many
from jobs.layout import keys
from jobs.reading.job_record import JobStatus, load_jobs

LOG_DIR = Path(__file__).resolve().parent / "results" / "logs"


async def drain(
    redis_url: str,
    n: int,
    level: str,
    log_dir: Path,
    cap_s: float = 120.0,
    job: str = "bench_pass",
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`job`: a no-op taking `{"idx"}` (`bench.workers.ours_jobs`: in the loop, a thread, a
    child process); `env`: more of the worker's settings."""
    redis, settings = bulk_enqueue.open_ours(redis_url)
    q = keys.queue(settings.queue_name)
    env = {"REDIS_URL": redis_url, "JOB_MODULES": JOB_MODULE, "LOG_LEVEL": level, **(env or {})}
    workers = Workers([sys.executable, "-m", "jobs"], env, 1, log_dir, f"ours-{job}-{level}")
    try:
        await redis.flushdb()
        await redis_cost.prepare(redis)
        done = await enqueue_many(redis, job, [{"idx": i} for i in range(n)], settings=settings)
        ids = [d.job_id for d in done]
        before = await redis_cost.snapshot(redis)
        await redis.config_resetstat()
        workers.start()
        deadline = time.monotonic() + cap_s
        first: tuple[float, int] | None = None
        left = n
        while left and time.monotonic() < deadline and workers.alive():
            await asyncio.sleep(0.005)
            left = int(await redis.zcard(q.due))  # a claimed job stays there until its settle
            if first is None and left < n:
                first = (workers.cpu_s(), n - left)
        cpu_s = workers.cpu_s()
        after = await redis_cost.snapshot(redis)
        calls = await redis_cost.commandstats(redis)
        records = []  # read as the API reads them
        for start in range(0, n, 1000):
            records += await load_jobs(redis, ids[start : start + 1000], {job: 1})
        once = [r for r in records if r and r.status is JobStatus.complete and r.tries == 1]
        starts = sorted(r.started_at.timestamp() for r in once if r.started_at)
        settled = n - left - (first[1] if first else 0)
        return {
            "n": n,
            "log_level": level,
            "complete_once": len(once),
            "exactly_once": len(once) == n,
            "jobs_per_s": (len(starts) - 1) / (starts[-1] - starts[0])
            if len(starts) > 1 and starts[-1] > starts[0]
            else None,
            "worker_cpu_us_per_job": (cpu_s - first[0]) * 1e6 / settled
            if first and settled
            else None,
            "redis_cpu_us_per_job": redis_cost.cpu_us_per_job(before, after, n),
            "commands_per_job": sum(calls.values()) / n,
        }
    finally:
        workers.stop()
        await redis.aclose()


async def run(redis_url: str, n: int, log_dir: Path = LOG_DIR) -> dict[str, Any]:
    """At the default `LOG_LEVEL=INFO` (two lines per job) and at WARNING (none)."""
    return {level: await drain(redis_url, n, level, log_dir) for level in ("INFO", "WARNING")}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--redis", required=True, help="queue server (its db is FLUSHDB'd)")
    p.add_argument("--n", type=int, default=20_000)
    a = p.parse_args()
    print(json.dumps(asyncio.run(run(a.redis, a.n)), indent=2))


if __name__ == "__main__":
    main()
