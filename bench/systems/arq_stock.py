"""Stock ARQ 0.28: `arq` CLI, a plain `WorkerSettings`, `ArqRedis.enqueue_job`.

`arq_default` keeps ARQ's defaults (max_jobs=10, poll_delay=0.5 s); `arq_tuned` sets
max_jobs=200, poll_delay=0.01 s. Everything else, including the CLI's INFO logging of every
job, is stock.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings

from bench.systems.base import System

SETTINGS = {
    "arq_default": ("DefaultSettings", {"max_jobs": 10, "poll_delay": 0.5}),
    "arq_tuned": ("TunedSettings", {"max_jobs": 200, "poll_delay": 0.01}),
}


class ArqStock(System):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.settings_class, self.params = SETTINGS[name]
        kind = "defaults" if name == "arq_default" else "tuned"
        self.label = f"ARQ {kind}"
        self.pool: Any = None

    def worker_argv(self) -> list[str]:
        return [self.python(), "-m", "arq", f"bench.workers.arq_worker.{self.settings_class}"]

    def config(self) -> dict[str, Any]:
        return {"arq": version("arq"), **self.params}

    async def open(self, redis_url: str) -> None:
        await super().open(redis_url)
        self.pool = await create_pool(RedisSettings.from_dsn(redis_url))

    async def enqueue(self, idx: int, key: str, stamp: bool) -> None:
        job = await self.pool.enqueue_job("noop", idx, key, stamp)
        assert job is not None

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()


def make(name: str) -> System:
    return ArqStock(name)
