"""Load for the fault tests: many jobs enqueued one by one at once (`enqueue_each`), and a
steady load of ping jobs from Python and over HTTP that keeps every job it meant to enqueue
through redirections and outages (`SteadyLoad`, the cluster's)."""

import asyncio
import time
from typing import Any

import httpx
from redis.exceptions import RedisError

from jobs.enqueue.submit import enqueue
from jobs.layout.connection import RedisClient
from settings import Settings


async def enqueue_each(
    redis: RedisClient,
    name: str,
    payloads: list[dict[str, Any]],
    settings: Settings,
    in_flight: int = 200,
) -> list[str]:
    """Enqueue one job per payload, each its own `enqueue` call (in order of the list,
    `in_flight` at a time), as many clients would; their ids. (`jobs.enqueue.submit.enqueue_many`
    writes them in chunks instead.)"""
    ids: list[str] = []
    for start in range(0, len(payloads), in_flight):
        chunk = payloads[start : start + in_flight]
        done = await asyncio.gather(
            *(enqueue(redis, name, payload, settings=settings) for payload in chunk)
        )
        ids += [e.job_id for e in done]
    return ids


class SteadyLoad:
    """Enqueues `jobs` ping jobs over `queues` at a steady rate; an enqueue that fails (the
    slot is moving) is sent again under the same id (Python) or idempotency key (HTTP), so a
    retry never makes a second job."""

    def __init__(
        self,
        redis: RedisClient,
        api: httpx.AsyncClient,
        settings: Settings,
        queues: tuple[str, ...],
        jobs: int,
        rate_per_s: float,
    ) -> None:
        self.redis, self.api, self.settings = redis, api, settings
        self.queues, self.jobs, self.rate_per_s = queues, jobs, rate_per_s
        self.ids: list[str] = []
        self.retries = 0
        self.slowest_s = 0.0
        self.sent = asyncio.Event()
        """Set once a third of the jobs are in: time to fail over."""

    async def run(self) -> None:
        started = time.monotonic()
        tasks = []
        for n in range(self.jobs):
            await asyncio.sleep(max(started + n / self.rate_per_s - time.monotonic(), 0))
            tasks.append(asyncio.create_task(self._one(n)))
            if n == self.jobs // 3:
                self.sent.set()
        self.ids = list(await asyncio.gather(*tasks))

    async def _one(self, n: int) -> str:
        queue = self.queues[n % len(self.queues)]
        began = time.monotonic()
        while True:
            try:
                job_id = await (self._python if n % 2 else self._http)(n, queue)
                self.slowest_s = max(self.slowest_s, time.monotonic() - began)
                return job_id
            except (RedisError, OSError, httpx.TransportError):
                pass
            self.retries += 1
            await asyncio.sleep(0.05)

    async def _python(self, n: int, queue: str) -> str:
        payload = {"message": str(n), "sleep_s": 0.05}
        enqueued = await enqueue(
            self.redis, "ping", payload, queue=queue, job_id=f"load{n}", settings=self.settings
        )
        return enqueued.job_id

    async def _http(self, n: int, queue: str) -> str:
        response = await self.api.post(
            "/jobs/ping",
            params={"queue": queue},
            json={"message": str(n), "sleep_s": 0.05},
            headers={"Idempotency-Key": f"load{n}"},
        )
        if response.status_code == 503:
            raise OSError(f"503: {response.text}")
        assert response.status_code in (200, 202), response.text
        job_id: str = response.json()["id"]
        return job_id
