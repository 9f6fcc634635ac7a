"""Worker-process scaling of our worker: drain N no-op jobs with 1, 2, 4 `python -m jobs`.

`python -m bench.scale --redis URL --tally URL [--n 20000] [--workers 1,2,4]`.
Each drain is `bench.measure`'s (same throughput, exactly-once and Redis cost figures), except
that the N jobs are pre-enqueued with `enqueue_many` (bulk: quick, and the producer is not what
is measured here). On a machine with fewer cores than worker processes + the server, the
figures say how the CPU is shared, not how far the design scales.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

from bench import bulk_enqueue, redis_cost
from bench.measure import Bench

LOG_DIR = Path(__file__).resolve().parent / "results" / "logs"


class ScaleBench(Bench):
    async def enqueue_all(self, n: int, key: str) -> float:
        redis, settings = bulk_enqueue.open_ours(self.args.redis)
        try:
            return await bulk_enqueue.enqueue_bulk(redis, settings, bulk_enqueue.payloads(n, key))
        finally:
            await redis.aclose()


async def run(
    redis_url: str, tally_url: str, n: int, counts: list[int], log_dir: Path = LOG_DIR
) -> dict[str, Any]:
    args = argparse.Namespace(
        system="ours", redis=redis_url, tally=tally_url, n=n, cap=90.0, log_dir=str(log_dir)
    )
    bench = ScaleBench(args)
    await bench.system.open(redis_url)
    await redis_cost.prepare(bench.r)
    out: dict[str, Any] = {"n": n, "drains": {}, "errors": []}
    try:
        for count in counts:
            workers = None
            try:
                drain, workers = await bench.drain(count, keep=False)
                drain.pop("top_commands", None)
                out["drains"][str(count)] = drain
            except Exception as exc:  # reported; the other counts go on
                out["errors"].append(f"{count} workers: {exc!r}")
            finally:
                if workers is not None:
                    workers.stop()
    finally:
        await bench.system.close()
        await bench.r.aclose()
        await bench.tally.aclose()
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--redis", required=True, help="queue server (its db is FLUSHDB'd)")
    p.add_argument("--tally", required=True, help="bookkeeping server (FLUSHDB'd too)")
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--workers", default="1,2,4")
    p.add_argument("--log-dir", default=os.fspath(LOG_DIR))
    args = p.parse_args()
    counts = [int(x) for x in args.workers.split(",")]
    result = asyncio.run(run(args.redis, args.tally, args.n, counts, Path(args.log_dir)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
