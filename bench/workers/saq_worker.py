"""SAQ worker settings: `python -m saq bench.workers.saq_worker.settings`."""

import os
from typing import Any

from saq import Queue

from bench import tally


async def noop(ctx: dict[str, Any], *, idx: int, bucket: str, stamp: bool) -> None:
    await tally.record(idx, bucket, stamp)


settings = {
    "queue": Queue.from_url(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1"), name="bench"),
    "functions": [noop],
    "concurrency": int(os.environ.get("BENCH_SAQ_CONCURRENCY", "100")),
}
