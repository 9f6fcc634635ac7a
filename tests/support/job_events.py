"""Watching job events: what the settle script published on `jobsvc:events` while a test ran.

The chaos tests count "stored twice" from the `finished` events, one per result written (the
states themselves they read over HTTP: `tests.support.jobs_api`).
"""

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from jobs.layout import keys
from jobs.layout.connection import RedisClient

RESUBSCRIBE_AFTER_S = 0.05
"""Pause between two attempts to resubscribe while the server is down (a retry, not a wait)."""


@dataclass
class JobEvents:
    """What was published on `jobsvc:events` since the subscription began."""

    finished: Counter[str] = field(default_factory=Counter)
    """How many `finished` messages named each id: one per result written."""
    first_finished_at: dict[str, float] = field(default_factory=dict)
    """`time.monotonic()` when each id was first reported finished."""
    started: set[str] = field(default_factory=set)

    def record(self, data: bytes) -> None:
        kind, *ids = data.decode().split()
        if kind == "finished":
            now = time.monotonic()
            for job_id in ids:
                self.finished[job_id] += 1
                self.first_finished_at.setdefault(job_id, now)
        elif kind == "started":
            self.started.update(ids)

    def all_finished(self, job_ids: Iterable[str]) -> bool:
        return all(job_id in self.finished for job_id in job_ids)

    def doubled(self) -> list[str]:
        return [job_id for job_id, n in self.finished.items() if n > 1]


async def _listen(redis: RedisClient, events: JobEvents, subscribed: asyncio.Event) -> None:
    while True:
        pubsub = redis.pubsub()
        try:
            await pubsub.subscribe(keys.EVENTS)
            async for message in pubsub.listen():
                if message["type"] == "subscribe":
                    subscribed.set()
                elif message["type"] == "message":
                    events.record(message["data"])
        except (RedisError, OSError):
            # The server is down: events published until we are back are not seen.
            await asyncio.sleep(RESUBSCRIBE_AFTER_S)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]


@contextlib.asynccontextmanager
async def job_events(redis: RedisClient) -> AsyncIterator[JobEvents]:
    """Subscribe to the events channel (resubscribing after a server restart) while inside."""
    events = JobEvents()
    subscribed = asyncio.Event()
    listener = asyncio.create_task(_listen(redis, events, subscribed))
    try:
        await asyncio.wait_for(subscribed.wait(), 10)
        yield events
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
