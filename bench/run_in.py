"""No-op jobs in the three places a try can run, in the same run: the loop (`async def`), the
thread pool (`def`) and a child process (`run_in="process"`): what each costs the worker.

`python -m bench.run_in --redis URL [--n 10000] [--rounds 2]`

One worker process drains `n` jobs of each kind at `LOG_LEVEL=WARNING`; the kinds alternate
order from round to round (the first drain of a run is a few % slower). Worker CPU counts the
worker's whole process tree (its children included). `WORKER_PROCESSES=2`: the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from typing import Any

from bench.pure_noop import LOG_DIR, drain

KINDS = {
    "async def (loop)": ("bench_pass", {}),
    "def (thread)": ("bench_pass_thread", {}),
    'def, run_in="process"': ("bench_pass_process", {"WORKER_PROCESSES": "2"}),
}


async def run(redis_url: str, n: int, rounds: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    order = list(KINDS)
    for r in range(rounds):
        for kind in order if r % 2 == 0 else order[::-1]:
            job, env = KINDS[kind]
            runs[kind].append(await drain(redis_url, n, "WARNING", LOG_DIR, 300.0, job, env))
    summary = {}
    for kind, results in runs.items():
        assert all(x["exactly_once"] for x in results), (kind, results)
        summary[kind] = {
            "jobs_per_s": statistics.median(x["jobs_per_s"] for x in results),
            "worker_cpu_us_per_job": statistics.median(x["worker_cpu_us_per_job"] for x in results),
            "runs": [round(x["jobs_per_s"]) for x in results],
        }
    return summary


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--redis", required=True, help="queue server (its db is FLUSHDB'd)")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    print(json.dumps(asyncio.run(run(a.redis, a.n, a.rounds)), indent=2))


if __name__ == "__main__":
    main()
