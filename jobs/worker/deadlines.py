"""Job timeouts: one event-loop timer for all running tries, armed for the earliest deadline.

An `asyncio.timeout` per try creates and cancels a timer for every job: about 5 µs under
uvloop, an eighth of a no-op job's whole cost to the worker. Here a try's start stores its
deadline (a float in a dict), and the one timer is re-armed only when a try's deadline comes
before the armed one. When it fires it cuts off the tries past their deadline and re-arms for
the next; the tries that ended meanwhile have left the dict, so with the usual long timeouts
(300 s) it fires rarely, and never for a try that finished in time.
"""

import asyncio
import math
from collections.abc import Callable

EARLY_S = 0.001
"""A loop timer may fire up to a millisecond before its time (uvloop counts whole ms): a try
that close to its deadline is cut off then rather than after another timer."""


class Deadlines:
    def __init__(self, expire: Callable[[str], None]) -> None:
        self._expire = expire
        """Called with the job id of a try past its deadline (the worker cancels it)."""
        self._watched: dict[str, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def watch(self, job_id: str, timeout_s: float) -> None:
        """From now, `job_id`'s try has `timeout_s` seconds (until `unwatch`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        self._watched[job_id] = deadline
        if deadline < self._timer_at:
            self._arm(loop, deadline)

    def unwatch(self, job_id: str) -> None:
        self._watched.pop(job_id, None)

    def _arm(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = loop.call_at(at, self._fire)

    def _fire(self) -> None:
        self._timer, self._timer_at = None, math.inf
        loop = asyncio.get_running_loop()
        now = loop.time() + EARLY_S
        expired = [job_id for job_id, deadline in self._watched.items() if deadline <= now]
        for job_id in expired:
            del self._watched[job_id]
        if self._watched:
            self._arm(loop, min(self._watched.values()))
        for job_id in expired:
            self._expire(job_id)
