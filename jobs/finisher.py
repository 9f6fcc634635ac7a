"""Settles finished tries in batches: one script call for everything that ended meanwhile.

A result is never dropped: when Redis is unreachable the batch is kept and retried.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from arq.connections import ArqRedis
from redis.exceptions import RedisError

from jobs import keys, lua

logger = logging.getLogger("jobs.worker")


@dataclass(frozen=True, slots=True)
class Settle:
    """One row of `finish.lua`: kind, id and three kind-specific values."""

    kind: str
    job_id: str
    a: bytes | str | int = ""
    b: bytes | str | int = ""
    c: bytes | str | int = ""


LINGER_S = 0.002
"""How long a small batch waits for company while other tries are still running."""
LINGER_BELOW = 32


class Finisher:
    def __init__(
        self, redis: ArqRedis, queue: str, more_coming: Callable[[], bool] = lambda: False
    ) -> None:
        self._redis = redis
        self._queue = queue
        self._more_coming = more_coming
        self._pending: list[Settle] = []
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, settle: Settle) -> None:
        self._pending.append(settle)
        self._idle.clear()
        self._ready.set()

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    async def flushed(self) -> None:
        """Wait until everything submitted so far is in Redis."""
        await self._idle.wait()

    async def run(self) -> None:
        script = lua.script("finish")
        delay = 0.05
        while True:
            await self._ready.wait()
            if len(self._pending) < LINGER_BELOW and self._more_coming():
                # Under load, tries end a few at a time: one call for many saves round trips
                # and server work; an idle worker's lone job is settled at once.
                await asyncio.sleep(LINGER_S)
            batch, self._pending = self._pending, []
            self._ready.clear()
            args: list[bytes | str | int] = []
            for s in batch:
                args += (s.kind, s.job_id, s.a, s.b, s.c)
            try:
                await script(self._redis, [self._queue, keys.ABORT, keys.FAILED], args)
            except RedisError as exc:
                logger.warning("could not settle %d jobs, retrying: %s", len(batch), exc)
                self._pending[:0] = batch
                self._ready.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.05
            if not self._pending:
                self._idle.set()
