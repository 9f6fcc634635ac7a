"""In-process workers with settings of a test's own, and what `record_start` jobs left behind."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.worker.loop import Worker
from settings import Settings
from tests.support.jobs.sample_jobs import STARTS
from tests.support.queues import new_queue

__all__ = ["RunWorker", "new_queue", "starts", "worker_in_background"]
from tests.support.waiting import eventually

RunWorker = Callable[..., Awaitable[Worker]]
"""The `run_worker` fixture: `await run_worker(**overrides)` runs a burst worker until the
queue is empty."""


@contextlib.asynccontextmanager
async def worker_in_background(
    settings: Settings, redis: RedisClient, **overrides: object
) -> AsyncIterator[Worker]:
    """A long-running worker (not burst) with `overrides` (e.g. `worker_queues="a,b"`), from
    its first heartbeat until the block ends."""
    worker = Worker(settings.model_copy(update=overrides), handle_signals=False)
    task = asyncio.create_task(worker.main())

    async def beating() -> bool:
        assert not task.done(), task
        return await redis.zscore(keys.WORKERS, worker.worker_id) is not None

    try:
        await eventually(beating)
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)


async def starts(redis: RedisClient, key: str = STARTS) -> list[str]:
    """The labels of the `record_start` tries, in the order they started."""
    return [label.decode() for label in await redis.lrange(key, 0, -1)]  # type: ignore[misc]
