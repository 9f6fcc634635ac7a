"""Stock ARQ worker settings: `python -m arq bench.workers.arq_worker.DefaultSettings`."""

import os
from typing import Any, ClassVar

from arq.connections import RedisSettings

from bench import tally


async def noop(ctx: dict[str, Any], idx: int, key: str, stamp: bool) -> None:
    await tally.record(idx, key, stamp)


class DefaultSettings:
    functions: ClassVar[list[Any]] = [noop]
    redis_settings = RedisSettings.from_dsn(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1"))
    # max_jobs=10, poll_delay=0.5: ARQ's own defaults, left alone.


class TunedSettings:
    # ARQ reads settings from the class __dict__: no inheritance.
    functions: ClassVar[list[Any]] = [noop]
    redis_settings = DefaultSettings.redis_settings
    max_jobs = 200
    poll_delay = 0.01
