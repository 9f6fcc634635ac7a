"""`drain()`: run every queued job in-process, with a real worker, until none is left.

A job that raises fails the test with its own traceback (`JobRaised`, chained to the
exception) unless the test expects it (`raise_on_failure=False`); deferred jobs, retries that
wait included, run now with `deferred=True`.
"""

import asyncio
from typing import Any

from jobs.declare.registry import load_catalog
from jobs.layout import keys
from jobs.layout.connection import RedisClient, is_cluster
from jobs.reading.job_record import JobRecord, load_jobs
from jobs.reading.queues import queue_names
from jobs.settings import Settings
from jobs.worker.attempt import Claimed
from jobs.worker.claim import Claims
from jobs.worker.loop import Worker

DRAIN_TIMEOUT_S = 60.0
"""A drain that never ends is a job that never ends (or one that keeps enqueueing)."""


class JobRaised(AssertionError):
    """A job raised during `drain()`; the job's exception is its `__cause__`."""


class _RecordingWorker(Worker):
    """A burst worker that remembers which jobs it claimed and what their tries raised."""

    def __init__(self, settings: Settings, redis: RedisClient) -> None:
        super().__init__(settings, burst=True, redis=redis, handle_signals=False)
        self.claimed: list[str] = []
        self.raised: list[tuple[str, Exception]] = []
        failed_try = self._attempts._failed_try

        def remember(claimed: Claimed, spec: Any, exc: Exception) -> Any:
            self.raised.append((claimed.job_id, exc))
            return failed_try(claimed, spec, exc)

        self._attempts._failed_try = remember  # type: ignore[method-assign]

    def _start(self, claims: Claims) -> bool:
        self.claimed.extend(c.job_id for c in claims.jobs)
        return super()._start(claims)


async def _due_now(redis: RedisClient, queue: str) -> int:
    """Make the queue's deferred jobs (and waiting retries) due now; how many there were."""
    due = keys.queue(queue).due
    seconds, micros = await redis.time()
    now_ms = seconds * 1000 + micros // 1000
    later = await redis.zrangebyscore(due, f"({now_ms}", "+inf")
    if later:
        await redis.zadd(due, dict.fromkeys(later, now_ms), xx=True)
    return len(later)


class Drain:
    def __init__(self, settings: Settings, redis: RedisClient) -> None:
        self.settings = settings
        self.redis = redis

    async def __call__(
        self, *, deferred: bool = False, raise_on_failure: bool = True
    ) -> list[JobRecord]:
        """Run queued jobs until none is left; the views of those that ran, in claim order."""
        catalog = load_catalog(self.settings)
        claimed: list[str] = []
        raised: list[tuple[str, Exception]] = []
        async with asyncio.timeout(DRAIN_TIMEOUT_S):
            while True:
                queues = await queue_names(self.redis, {s.queue for s in catalog.values()}, [])
                if deferred:
                    for queue in queues:
                        await _due_now(self.redis, queue)
                every_queue = self.settings.model_copy(update={"worker_queues": ",".join(queues)})
                worker = _RecordingWorker(every_queue, self.redis)
                await worker.main()
                claimed += worker.claimed
                raised += worker.raised
                if not (deferred and worker.claimed):
                    break  # with `deferred`: until a round runs nothing
        if raise_on_failure and raised:
            job_id, exc = raised[0]
            raise JobRaised(f"job {job_id} raised {type(exc).__name__}: {exc}") from exc
        ran = list(dict.fromkeys(claimed))
        max_tries = {name: spec.max_tries for name, spec in catalog.items()}
        records = await load_jobs(self.redis, ran, max_tries, legacy=not is_cluster(self.settings))
        return [r for r in records if r is not None]
