"""Our service's worker (`python -m jobs`) and enqueue (`jobs.enqueue.submit.enqueue`).

The no-op job is `bench_noop` from `bench.workers.ours_jobs`, added to the worker's catalog
through the `JOB_MODULES` setting. Everything else is the worker's default settings.
"""

from __future__ import annotations

import os
from importlib.metadata import version
from typing import Any

from bench.systems.base import System
from jobs.enqueue.submit import enqueue
from jobs.layout.connection import create_redis
from settings import Settings

JOB_MODULE = "bench.workers.ours_jobs"


class Ours(System):
    label = "ours"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.redis: Any = None
        self.settings: Any = None

    def worker_argv(self) -> list[str]:
        return [self.python(), "-m", "jobs"]

    def worker_env(self) -> dict[str, str]:
        return {
            "REDIS_URL": self.redis_url,
            "JOB_MODULES": JOB_MODULE,
            "LOG_LEVEL": os.environ.get("BENCH_OURS_LOG_LEVEL", "INFO"),
        }

    def config(self) -> dict[str, Any]:
        s = Settings()
        return {
            "jobservice": version("jobservice"),
            "arq": version("arq"),
            "worker_concurrency": s.worker_concurrency,
            "claim_batch": s.claim_batch,
        }

    async def open(self, redis_url: str) -> None:
        await super().open(redis_url)
        # `enqueue` resolves job names against the catalog: the bench job must be in it.
        self.settings = Settings(redis_url=redis_url, job_modules=[JOB_MODULE])
        self.redis = create_redis(self.settings)

    async def enqueue(self, idx: int, key: str, stamp: bool) -> None:
        done = await enqueue(
            self.redis,
            "bench_noop",
            {"idx": idx, "key": key, "stamp": stamp},
            settings=self.settings,
        )
        assert done.outcome == "created", done

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


def make(name: str) -> System:
    return Ours(name)
