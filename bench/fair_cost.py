"""What fair shares cost: `python -m bench.fair_cost [--redis URL --tally URL] [--n 10000]`.

N no-op jobs enqueued with `enqueue_many`, then one `python -m jobs` drains them: `bench_noop`
(plain) and `bench_noop_fair` (the same no-op with `fair_key="tenant"`, 100 tenants: idx % 100,
`bench/workers/fair_jobs.py`) alternate over `--rounds` rounds on the same servers
(`bench.flow_cost`'s drain). Per job: the queue server's CPU (`INFO cpu`, used_cpu_sys +
used_cpu_user, before and after) for the enqueue and for the drain (claim + run + finish), and
its commands (`INFO commandstats`, commands inside scripts included). The ratios are fair ÷
plain of the medians; the target is at most 1.3 for the CPU of a job's whole life.

Without `--redis`, two embedded Valkey servers are started (queue, tally); both are FLUSHDB'd.
Writes results/fair_cost.json.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench import redis_cost, standalone
from bench.flow_cost import FlowCost

MODULES = "bench.workers.ours_jobs,bench.workers.fair_jobs"
PLAIN, FAIR = "bench_noop", "bench_noop_fair"
TENANTS = 100


async def run(
    redis_url: str, tally_url: str, n: int, rounds: int, samples: int, log_dir: Path
) -> dict[str, Any]:
    bench = FlowCost(redis_url, tally_url, log_dir, MODULES)
    try:
        await redis_cost.prepare(bench.r)
        drains: dict[str, list[dict[str, Any]]] = {PLAIN: [], FAIR: []}
        for r in range(rounds):
            order = (PLAIN, FAIR) if r % 2 == 0 else (FAIR, PLAIN)
            for job in order:
                tenants = TENANTS if job == FAIR else None
                drains[job].append(await bench.drain(job, n, f"{job}-{r}", tenants))
        for ds in drains.values():
            for d in ds:
                d["redis_cpu_total_us_per_job"] = (
                    d["redis_cpu_drain_us_per_job"] + d["redis_cpu_enqueue_us_per_job"]
                )

        def median(job: str, figure: str) -> float:
            return statistics.median(d[figure] for d in drains[job])

        figures = (
            "jobs_per_s",
            "redis_cpu_total_us_per_job",
            "redis_cpu_drain_us_per_job",
            "redis_cpu_enqueue_us_per_job",
            "commands_per_job_drain",
            "commands_per_job_enqueue",
        )
        out: dict[str, Any] = {
            "n": n,
            "rounds": rounds,
            "tenants": TENANTS,
            "median": {job: {f: median(job, f) for f in figures} for job in drains},
            "drains": drains,
            "exactly_once": all(d["exactly_once"] for ds in drains.values() for d in ds),
        }
        for figure in ("redis_cpu_total_us_per_job", "redis_cpu_drain_us_per_job"):
            out[f"ratio_{figure}"] = median(FAIR, figure) / median(PLAIN, figure)
        return out
    finally:
        await bench.close()


def main() -> None:
    standalone.main(
        "fair_cost", run, n=10000, n_help="jobs per drain", samples=0, samples_help="unused"
    )


if __name__ == "__main__":
    main()
