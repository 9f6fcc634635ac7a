"""taskiq broker and task: `taskiq worker bench.workers.taskiq_worker:broker`."""

import os

from taskiq_redis import ListQueueBroker

from bench import tally

broker = ListQueueBroker(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1"))


@broker.task(task_name="noop")
async def noop(idx: int, key: str, stamp: bool) -> None:
    await tally.record(idx, key, stamp)
