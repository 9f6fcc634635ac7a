"""Tools for the chaos tests: watch job events, read JobViews over HTTP, enqueue in bulk.

The tests judge outcomes the way a user would: job states come from a real web process
(`GET /jobs/{id}`), and "stored twice" is counted from the `finished` events the settle
script publishes, one per result it writes.
"""

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis.exceptions import RedisError

from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from settings import Settings
from tests.e2e.conftest import Processes, WorkerProcess

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


async def enqueue_many(
    redis: RedisClient,
    name: str,
    payloads: list[dict[str, Any]],
    settings: Settings,
    in_flight: int = 200,
) -> list[str]:
    """Enqueue one job per payload (in order of the list, `in_flight` at a time); their ids."""
    ids: list[str] = []
    for start in range(0, len(payloads), in_flight):
        chunk = payloads[start : start + in_flight]
        done = await asyncio.gather(
            *(enqueue(redis, name, payload, settings=settings) for payload in chunk)
        )
        ids += [e.job_id for e in done]
    return ids


class JobsApi:
    """Reads JobViews from a running web process."""

    def __init__(self, base_url: str, concurrency: int = 16) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url,
            timeout=10,
            limits=httpx.Limits(max_connections=concurrency),
        )
        self._slots = asyncio.Semaphore(concurrency)

    async def __aenter__(self) -> "JobsApi":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def get(self, job_id: str) -> httpx.Response:
        async with self._slots:
            return await self.client.get(f"/jobs/{job_id}")

    async def view(self, job_id: str) -> dict[str, Any]:
        response = await self.get(job_id)
        assert response.status_code == 200, (job_id, response.status_code, response.text)
        view: dict[str, Any] = response.json()
        return view

    async def views(self, job_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """`GET /jobs/{id}` for each (a few ms each: for thousands, `listed` is cheaper)."""
        ids = list(job_ids)
        found = await asyncio.gather(*(self.view(job_id) for job_id in ids))
        return dict(zip(ids, found, strict=True))

    async def listed(self, name: str) -> dict[str, dict[str, Any]]:
        """Every job named `name`, by id, from all pages of `GET /jobs?name=`."""
        views: dict[str, dict[str, Any]] = {}
        params: dict[str, str | int] = {"name": name, "limit": 200}
        while True:
            response = await self.client.get("/jobs", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            views.update((view["id"], view) for view in page["jobs"])
            if not page["next_cursor"]:
                return views
            params["cursor"] = page["next_cursor"]


def log_of(processes: Processes, worker: WorkerProcess) -> Path:
    """The log file `processes` writes for `worker` (named by its start order)."""
    return processes.logs / f"worker-{processes.started.index(worker.process)}.log"


def report(title: str, **figures: object) -> None:
    """Print the test's figures (shown with `pytest -s` or `-rP`)."""
    print(f"\n[{title}] " + "  ".join(f"{name}={value}" for name, value in figures.items()))
