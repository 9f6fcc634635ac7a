"""The blocked-loop scenario of issue 18, run against a worker of any tree: what a blocking
`async def` job does to the jobs its worker holds.

`python -m bench.blocked_loop --redis URL [--tree PATH]`

A real worker process (`python -m jobs` started in `--tree`, default this one) with
`LEASE_S=2` holds three jobs of `tests/support/jobs/stall_jobs.py` (copied beside it, so an
older tree runs the same jobs): `block_loop` blocks the loop (`time.sleep`, 2.5 leases) on its
first tries, `thread_report` awaits `asyncio.to_thread`, `send_notice` is a short job
(max 3 tries). Two runs: the blocker blocks twice then completes; the blocker blocks on every
try and is aborted (`DELETE`) while the loop is stuck. For each job: its final status, tries
over max, how many times its body ran, and the worker's count of completions and lease-lost
lines. The figures go in bench/README.md ("Blocking code in an async def job").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jobs.enqueue.abort import abort
from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient, create_redis
from jobs.layout.serialization import deserialize
from jobs.reading.job_record import load_jobs
from settings import Settings

ROOT = Path(__file__).resolve().parents[1]
JOBS = ROOT / "tests" / "support" / "jobs" / "stall_jobs.py"
MAX_TRIES = {"send_notice": 3, "thread_report": 5, "block_loop": 5}
FINAL = ("complete", "failed", "aborted")


async def _runs(redis: RedisClient, job_id: str) -> list[int]:
    return [int(t) for t in await redis.lrange(f"test:stall-runs:{job_id}", 0, -1)]  # type: ignore[misc]


async def scenario(
    redis_url: str, tree: Path, blocking_tries: int, abort_it: bool
) -> dict[str, Any]:
    settings = Settings(redis_url=redis_url, job_modules=["tests.support.jobs.stall_jobs"])
    redis = create_redis(settings)
    await redis.flushdb()
    module_dir = Path(tempfile.mkdtemp(prefix="stall-jobs-"))
    shutil.copy(JOBS, module_dir / "stall_jobs.py")
    log = module_dir / "worker.log"
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "JOB_MODULES": "stall_jobs",
        "PYTHONPATH": str(module_dir),
        "LEASE_S": "2",
        "HEARTBEAT_S": "1",
        "BACKOFF_BASE_S": "0.01",
        "BACKOFF_MAX_S": "0.05",
        "CRON_ENABLED": "false",
        "LOG_LEVEL": "INFO",
    }
    ids = {}
    for name, payload in (
        ("send_notice", {}),
        ("thread_report", {"seconds": 1.0}),
        ("block_loop", {"block_s": 5.0, "blocking_tries": blocking_tries}),
    ):
        ids[name] = (await enqueue(redis, name, payload, settings=settings)).job_id
    with log.open("wb") as out:
        worker = subprocess.Popen(  # noqa: ASYNC220 (started once, before the timing matters)
            [sys.executable, "-m", "jobs"], cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        if abort_it:
            while await _runs(redis, ids["block_loop"]) != [1]:  # noqa: ASYNC110 (a Redis list)
                await asyncio.sleep(0.05)
            await abort(redis, ids["block_loop"], settings, legacy=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            records = await load_jobs(redis, list(ids.values()), MAX_TRIES, legacy=True)
            if all(r is not None and r.status in FINAL for r in records):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)  # one more heartbeat: its counts include the last outcomes
        records = await load_jobs(redis, list(ids.values()), MAX_TRIES, legacy=True)
        beat: dict[str, Any] = {}
        for member in await redis.zrange(keys.WORKERS, 0, -1):
            raw = await redis.get(keys.WORKER + member.decode())
            beat = deserialize(raw) if raw else beat
    finally:
        worker.terminate()
        worker.wait(30)
        await redis.aclose()
    text = log.read_text(errors="replace")
    jobs = {}
    redis = create_redis(settings)
    for (name, job_id), record in zip(ids.items(), records, strict=True):
        jobs[name] = {
            "status": str(record.status.value) if record else "missing",
            "tries": f"{record.tries}/{MAX_TRIES[name]}" if record else "?",
            "error": record.error.type if record and record.error else None,
            "body_ran": len(await _runs(redis, job_id)),
        }
    await redis.aclose()
    shutil.rmtree(module_dir)
    return {
        "jobs": jobs,
        "worker_counted_complete": beat.get("complete"),
        "lease_lost_lines": text.count("lease lost"),
    }


async def run(redis_url: str, tree: Path) -> dict[str, Any]:
    return {
        "blocks twice, then completes": await scenario(redis_url, tree, 2, abort_it=False),
        "blocks every try, aborted while stuck": await scenario(redis_url, tree, 5, abort_it=True),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--redis", required=True, help="queue server (its db is FLUSHDB'd)")
    p.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose worker runs")
    a = p.parse_args()
    print(json.dumps(asyncio.run(run(a.redis, a.tree.resolve())), indent=2))


if __name__ == "__main__":
    main()
