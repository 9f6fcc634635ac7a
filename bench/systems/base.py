"""The small interface every system under test implements.

A system knows how to start one worker process (an argv run as a real subprocess, from the
repository root, with `BENCH_REDIS_URL` and `BENCH_TALLY_URL` in its environment) and how to
enqueue one no-op job from Python. The job must call `bench.tally.record(idx, key, stamp)`.
"""

from __future__ import annotations

import sys
from typing import Any


class System:
    name: str = ""
    label: str = ""

    def __init__(self, name: str) -> None:
        self.name = name
        self.redis_url = ""

    def worker_argv(self) -> list[str]:
        """Command line of one worker process."""
        raise NotImplementedError

    def worker_env(self) -> dict[str, str]:
        """Extra environment for the worker process."""
        return {}

    def config(self) -> dict[str, Any]:
        """Facts worth printing next to the figures (versions, concurrency, ...)."""
        return {}

    async def open(self, redis_url: str) -> None:
        self.redis_url = redis_url

    async def enqueue(self, idx: int, key: str, stamp: bool) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        pass

    @staticmethod
    def python() -> str:
        return sys.executable
