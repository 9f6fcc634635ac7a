"""SAQ 0.26: `python -m saq bench.workers.saq_worker.settings`, `Queue.enqueue`.

Concurrency is set to 100 (SAQ's default is 10), the same number of jobs in flight per process
as our worker's and taskiq's defaults; `BENCH_SAQ_CONCURRENCY` overrides it.
"""

from __future__ import annotations

import os
from importlib.metadata import version
from typing import Any

from saq import Queue

from bench.systems.base import System

QUEUE = "bench"


def concurrency() -> int:
    return int(os.environ.get("BENCH_SAQ_CONCURRENCY", "100"))


class Saq(System):
    label = "SAQ"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.queue: Any = None

    def worker_argv(self) -> list[str]:
        return [self.python(), "-m", "saq", "bench.workers.saq_worker.settings", "--quiet"]

    def worker_env(self) -> dict[str, str]:
        return {"BENCH_SAQ_CONCURRENCY": str(concurrency())}

    def config(self) -> dict[str, Any]:
        return {"saq": version("saq"), "concurrency": concurrency()}

    async def open(self, redis_url: str) -> None:
        await super().open(redis_url)
        self.queue = Queue.from_url(redis_url, name=QUEUE)
        await self.queue.connect()

    async def enqueue(self, idx: int, key: str, stamp: bool) -> None:
        # `key` is a field of SAQ's Job (its id): the bucket goes by another name.
        job = await self.queue.enqueue("noop", idx=idx, bucket=key, stamp=stamp)
        assert job is not None

    async def close(self) -> None:
        if self.queue is not None:
            await self.queue.disconnect()


def make(name: str) -> System:
    return Saq(name)
