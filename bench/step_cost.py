"""What durable steps and a durable sleep cost, against a plain job, in the same run.

`python -m bench.step_cost --redis URL [--n 10000] [--rounds 3]`

One worker process drains `n` jobs of each kind at `LOG_LEVEL=WARNING`, the kinds in
alternating order from round to round (`bench.workers.ours_jobs`):

- plain: `bench_pass`, a no-op;
- 3 steps: `bench_steps`, the same no-op calling `ctx.step` three times (each stores a small
  JSON result through the fenced `progress.lua`);
- 1 sleep: `bench_sleep`, one `ctx.sleep(0)`: the try ends, the job is settled due again, and
  a second try finds the sleep past and completes (two claims and two settles per job).

Reported per kind: jobs/s, the worker's CPU µs per job, Redis CPU µs per job (`INFO cpu`) and
commands per job; and per step, the difference to plain divided by 3.
"""

import argparse
import asyncio
import json
import statistics
from typing import Any

from bench.pure_noop import LOG_DIR, drain
from bench.workers.ours_jobs import STEPS

KINDS = {"plain": "bench_pass", "3 steps": "bench_steps", "1 sleep": "bench_sleep"}
MEASURES = ("jobs_per_s", "worker_cpu_us_per_job", "redis_cpu_us_per_job", "commands_per_job")


async def run(redis_url: str, n: int, rounds: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    order = list(KINDS)
    for r in range(rounds):
        for kind in order if r % 2 == 0 else order[::-1]:
            result = await drain(redis_url, n, "WARNING", LOG_DIR, 600.0, job=KINDS[kind])
            assert result["complete_once"] or kind == "1 sleep", (kind, result)
            runs[kind].append(result)
    summary: dict[str, Any] = {
        kind: {m: statistics.median(x[m] for x in results if x[m] is not None) for m in MEASURES}
        for kind, results in runs.items()
    }
    plain, stepped = summary["plain"], summary["3 steps"]
    summary["per step"] = {
        m: (stepped[m] - plain[m]) / STEPS for m in MEASURES if m != "jobs_per_s"
    }
    return summary


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--redis", required=True, help="queue server (its db is FLUSHDB'd)")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    print(json.dumps(asyncio.run(run(a.redis, a.n, a.rounds)), indent=2))


if __name__ == "__main__":
    main()
