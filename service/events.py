"""Job change notifications for long-polls and event streams.

One pub/sub connection per web process listens on the workers' `jobsvc:events` channel and
wakes the requests watching the ids it names; no request polls Redis in a loop.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator

from redis.exceptions import RedisError

from jobs.layout.connection import pubsub_client
from jobs.reading import changes as job_events
from jobs.settings import Settings

logger = logging.getLogger("service.events")


class EventHub:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._watchers: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="event-hub")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.asynccontextmanager
    async def watch(self, job_id: str) -> AsyncIterator[asyncio.Event]:
        """An event set whenever `job_id` may have changed (clear it after each read)."""
        event = asyncio.Event()
        self._watchers[job_id].add(event)
        try:
            yield event
        finally:
            watchers = self._watchers.get(job_id)
            if watchers is not None:
                watchers.discard(event)
                if not watchers:
                    del self._watchers[job_id]

    def _notify(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            for event in self._watchers.get(job_id, ()):
                event.set()

    def _notify_all(self) -> None:
        for watchers in self._watchers.values():
            for event in watchers:
                event.set()

    async def _listen(self) -> None:
        delay, attempt = 0.1, 0
        while True:
            # A connection of its own (on a cluster: one node, any will do; see pubsub_client).
            client = pubsub_client(self._settings, attempt)
            pubsub = None
            try:
                pubsub = await job_events.subscribe(client)
                self.connected.set()
                self._notify_all()  # anything may have changed while we were away
                delay = 0.1
                async for message in pubsub.listen():
                    data = message.get("data")
                    if isinstance(data, bytes):
                        self._notify(job_events.changed_jobs(data))
            except (RedisError, OSError) as exc:
                self.connected.clear()
                attempt += 1
                logger.warning("event listener lost Redis, reconnecting: %s", exc)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
