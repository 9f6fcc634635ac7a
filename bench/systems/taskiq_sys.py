"""taskiq 0.13 + taskiq-redis 1.2.4 `ListQueueBroker` (LPUSH / BRPOP), no result backend.

Worker: `taskiq worker bench.workers.taskiq_worker:broker --workers 1` (a supervisor process
plus one worker child; both count in its RSS). Defaults otherwise (max_async_tasks=100).
Runs from `bench/.venv-taskiq` (taskiq-redis needs redis>=8).
"""

from __future__ import annotations

import os
from importlib.metadata import version
from typing import Any

from bench.systems.base import System


class Taskiq(System):
    label = "taskiq"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.broker: Any = None
        self.task: Any = None

    def worker_argv(self) -> list[str]:
        return [
            self.python(),
            "-m",
            "taskiq",
            "worker",
            "bench.workers.taskiq_worker:broker",
            "--workers",
            "1",
            "--log-level",
            "WARNING",
        ]

    def config(self) -> dict[str, Any]:
        return {
            "taskiq": version("taskiq"),
            "taskiq-redis": version("taskiq-redis"),
            "broker": "ListQueueBroker",
            "max_async_tasks": 100,
        }

    async def open(self, redis_url: str) -> None:
        os.environ["BENCH_REDIS_URL"] = redis_url
        # Imported here: the worker module builds its broker from this variable at import.
        from bench.workers import taskiq_worker

        await super().open(redis_url)
        self.broker = taskiq_worker.broker
        self.task = taskiq_worker.noop
        await self.broker.startup()

    async def enqueue(self, idx: int, key: str, stamp: bool) -> None:
        await self.task.kiq(idx, key, stamp)

    async def close(self) -> None:
        if self.broker is not None:
            await self.broker.shutdown()


def make(name: str) -> System:
    return Taskiq(name)
