"""Whether any live worker serves a queue, for the warning an enqueue answers with.

A job enqueued on a queue no worker serves stays queued until one that does starts (a worker
serves `WORKER_QUEUES`; `*` serves every queue): the client should hear it at once, in a
`Warning: 199 - "no live worker serves queue 'x'"` header on the 200/202. The heartbeats are
read at most every `REREAD_S` per web process, not on every enqueue (the hot route).
"""

import contextlib
import math
import time
from collections.abc import Iterable

from redis.exceptions import RedisClusterException, RedisError
from starlette.responses import Response

from jobs.layout.connection import RedisClient
from jobs.reading.queues import served_queues

REREAD_S = 1.0


class QueueServing:
    def __init__(self) -> None:
        self._read_at = -math.inf
        self._names: set[str] = set()
        self._every = True  # until read: no warning

    async def warning(self, redis: RedisClient, queue: str) -> dict[str, str]:
        """The `Warning` header for an enqueue on `queue`, or none. A failed read of the
        heartbeats is no warning: the job is queued already, and that is the answer."""
        now = time.monotonic()
        if now - self._read_at >= REREAD_S:
            with contextlib.suppress(RedisError, RedisClusterException, OSError):
                self._names, self._every = await served_queues(redis)
                self._read_at = now
        if self._every or queue in self._names:
            return {}
        return {"Warning": f'199 - "no live worker serves queue {queue!r}"'}

    async def warn(self, redis: RedisClient, response: Response, queues: Iterable[str]) -> None:
        """A `Warning` header on `response` for each of `queues` no live worker serves."""
        for queue in dict.fromkeys(queues):
            for name, value in (await self.warning(redis, queue)).items():
                response.headers.append(name, value)
