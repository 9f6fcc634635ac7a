"""The tries a worker runs at once: one task per claimed try, at most `capacity` of them.

The claim loop (`jobs.worker.loop`) asks for room before it claims. `room(wanted, linger_s)` returns
as soon as one slot is free, or, when the queue is deep, once `wanted` slots are free or
`linger_s` has passed since the first one freed: under load, tries end a few at a time, and one
claim for many saves round trips and server work; the linger bounds how long a free slot idles.
"""

import asyncio
import contextlib
import functools
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from jobs.layout.keys import QueueKeys
from jobs.worker import leases
from jobs.worker.attempt import Claimed


class Slots:
    def __init__(
        self, capacity: int, run: Callable[[Claimed], Coroutine[Any, Any, object]]
    ) -> None:
        self.capacity = capacity
        self._run = run
        """The body of one try's task (runs it and submits its settle)."""
        self.running: dict[str, Claimed] = {}
        self._room = asyncio.Event()
        self._wanted = 1
        """Free slots at which `_room` is set (`room` raises it to batch claims)."""
        self._woken = False

    @property
    def free(self) -> int:
        return self.capacity - len(self.running)

    def start(self, claims: Iterable[Claimed]) -> int:
        """A task per claimed try; how many started.

        A claim of a job whose earlier try still runs here is a new try of it: that try lost
        its lease (this worker stalled past it, e.g. a job blocked the event loop, and took
        the job again once it came due). The old try is cancelled as "lost" and leaves
        `running`; the new one takes its place (its lease is renewed from now on) and runs
        once the old task has ended (`Claimed.after`): two tries of one job never run at once
        in this worker, and no claim is left with a lease that nobody holds."""
        started = 0
        for claimed in claims:
            stale = self.running.get(claimed.job_id)
            if stale is not None:
                if stale.token == claimed.token:
                    continue  # the same try (a recovered claim overlapping a live one)
                self.cancel(claimed.job_id, "lost")
                claimed.after = stale.task
            self.running[claimed.job_id] = claimed
            claimed.task = asyncio.create_task(self._guarded(claimed))
            started += 1
        return started

    async def _guarded(self, claimed: Claimed) -> None:
        claimed.began = True
        try:
            await self._run(claimed)
        finally:
            # `_run` has submitted the try's outcome by now: a claim this wakes finds it pending.
            self._leave(claimed)

    def _ended(self, claimed: Claimed, _task: "asyncio.Task[None]") -> None:
        """A task that never took its first step is done: free its slot."""
        self._leave(claimed)

    def _leave(self, claimed: Claimed) -> None:
        """`claimed` is over: free its slot, unless a newer try of its job holds it now."""
        holder = self.running.pop(claimed.job_id, None)
        if holder is not claimed and holder is not None:
            self.running[claimed.job_id] = holder  # a stale try ended: the new one stays
        elif self.free >= self._wanted:
            self._room.set()

    async def room(self, wanted: int = 1, linger_s: float = 0.0) -> None:
        """Wait for a free slot; then, up to `linger_s` more, for `wanted` free slots.

        `wake()` ends the wait early (stop)."""
        if self.free >= wanted or self._woken:
            return
        if self.free <= 0:
            self._wanted = 1
            self._room.clear()
            await self._room.wait()
        if self.free >= wanted or linger_s <= 0 or self._woken:
            self._wanted = 1
            return
        self._wanted = wanted
        self._room.clear()
        timer = asyncio.get_running_loop().call_later(linger_s, self._room.set)
        try:
            await self._room.wait()
        finally:
            timer.cancel()
            self._wanted = 1

    async def one_ends(self, timeout_s: float) -> None:
        """Wait until a try ends (or `timeout_s`); one that ended since the last wait counts."""
        self._wanted = 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._room.wait(), timeout_s)
        self._room.clear()

    def wake(self) -> None:
        """End any `room` wait now, and every later one (the worker is stopping)."""
        self._woken = True
        self._room.set()

    def cancel(self, job_id: str, reason: str) -> None:
        """Cancel a running try, once; a try that outlived its timeout's cancellation (the
        job caught it) can still be aborted, re-queued or dropped."""
        claimed = self.running.get(job_id)
        if claimed and claimed.task and claimed.cancel_reason in (None, "timeout"):
            claimed.cancel_reason = reason
            claimed.task.cancel()
            if not claimed.began:
                # Cancelled before its first step, its body (and the `finally` that frees its
                # slot) never runs: free the slot once the task is done. (Only here: a done
                # callback on every task costs the event loop a round per try.)
                claimed.task.add_done_callback(functools.partial(self._ended, claimed))

    async def wind_down(self, grace_s: float | None, hurry: asyncio.Event) -> None:
        """Let running tries finish within `grace_s` (None: no bound) or until `hurry` is
        set; cancel the rest as "shutdown" (re-queued) and wait for them to settle."""
        tasks = [c.task for c in self.running.values() if c.task]
        if not tasks:
            return
        # asyncio.wait does not cancel what it waits for: cancelling `finished` leaves the
        # tries running until they are cancelled below, each with its reason.
        finished = asyncio.ensure_future(asyncio.wait(tasks))
        hurried = asyncio.ensure_future(hurry.wait())
        try:
            await asyncio.wait([finished, hurried], timeout=grace_s, return_when="FIRST_COMPLETED")
        finally:
            finished.cancel()
            hurried.cancel()
        for job_id in list(self.running):
            self.cancel(job_id, "shutdown")
        pending = [t for t in tasks if not t.done()]
        if pending:
            await asyncio.wait(pending)

    def by_queue(self) -> dict[QueueKeys, list[Claimed]]:
        return leases.by_queue(self.running.values())

    def oldest_started_ms(self) -> int:
        """When the longest-running try began (0: none runs)."""
        return min((c.started_ms for c in self.running.values()), default=0)
