"""The blocked-loop watchdog: names the job that stops the worker's event loop.

An `async def` job that blocks (`time.sleep`, a sync HTTP or database call, CPU-bound work)
freezes the whole worker: no other try advances, no lease is renewed, no abort is heard. The
invariants survive it (fencing, `jobs.worker.capacity`), but the cause is invisible: the log
just shows leases lost. The watchdog makes it visible.

On the loop, a timer every `interval_s` stores the monotonic time (the only cost to the loop:
a few timer callbacks a second, nothing per job). A daemon thread checks that time; when the
loop has not run it for `threshold_s`, it logs one warning for the stall, naming the try the
loop is stuck in (`asyncio`'s current task of the loop, matched against the running tries)
with the loop thread's current stack, and another line with its duration once the loop runs
again. Stalls and stalled seconds are counted for `/metrics` (`jobs.reading.stats`).
"""

import asyncio
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable

from jobs.worker.attempt import Claimed

logger = logging.getLogger("jobs.worker")

MIN_THRESHOLD_S = 0.5


def threshold_for(lease_s: float) -> float:
    """A sixth of the lease, at least half a second.

    Leases are renewed every third of `LEASE_S`: a stall of a sixth is half way to a missed
    renewal and far from a lost lease, so the warning comes before the harm (and names the
    cause while it is still on the stack). Below half a second, ordinary pauses (a full
    garbage collection, decoding a large payload) would be reported as stalls."""
    return max(lease_s / 6, MIN_THRESHOLD_S)


class Watchdog:
    def __init__(self, threshold_s: float, running: Callable[[], Iterable[Claimed]]) -> None:
        self.threshold_s = threshold_s
        self.interval_s = threshold_s / 4
        """How often the loop stamps the time (and the thread looks at it)."""
        self._running = running
        """The tries running now (`Slots.running.values`), to name the one that blocks."""
        self.stalls = 0
        """Stalls seen since start."""
        self.stalled_s = 0.0
        """Their total duration (each added when it ends)."""
        self._beat = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._timer: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching the running loop (call it from the loop's thread)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._tick()
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.cancel()
        if self._thread is not None:
            self._thread.join(self.interval_s * 4)

    def _tick(self) -> None:
        assert self._loop is not None
        self._beat = time.monotonic()
        self._timer = self._loop.call_later(self.interval_s, self._tick)

    def _watch(self) -> None:
        stalled_since: float | None = None
        """The last beat before the current stall (None: the loop runs)."""
        while not self._stop.wait(self.interval_s):
            beat = self._beat
            if stalled_since is None:
                if time.monotonic() - beat > self.threshold_s:
                    stalled_since = beat
                    self.stalls += 1
                    self._report_stall(time.monotonic() - beat)
            elif beat != stalled_since:
                duration_s = beat - stalled_since
                self.stalled_s += duration_s
                stalled_since = None
                logger.warning(
                    "event loop ran again after %.1f s blocked",
                    duration_s,
                    extra={"stall_s": duration_s},
                )

    def _report_stall(self, so_far_s: float) -> None:
        blocking, others = self._culprits()
        frame = sys._current_frames().get(self._loop_thread)
        stack = "".join(traceback.format_stack(frame)) if frame is not None else "(unknown)\n"
        where = (
            f"job {blocking.name} (id {blocking.job_id}, try {blocking.tries})"
            if blocking is not None
            else f"task {self._current_task_name()}"
        )
        fields = {"job_id": blocking.job_id, "job": blocking.name} if blocking else {}
        logger.warning(
            "event loop blocked for %.1f s by %s (%d other tries wait; blocking code belongs in "
            'a plain `def` job or run_in="process"); its stack:\n%s',
            so_far_s,
            where,
            len(others),
            stack.rstrip(),
            extra=fields,
        )

    def _culprits(self) -> tuple[Claimed | None, list[Claimed]]:
        """The try the loop is stuck in (None: not a try), and the others running."""
        task = asyncio.current_task(self._loop) if self._loop is not None else None
        for _ in range(3):  # the loop may resume and change `running` while we read it
            try:
                running = list(self._running())
                break
            except RuntimeError:
                continue
        else:
            running = []
        blocking = next((c for c in running if task is not None and c.task is task), None)
        return blocking, [c for c in running if c is not blocking]

    def _current_task_name(self) -> str:
        task = asyncio.current_task(self._loop) if self._loop is not None else None
        return task.get_name() if task is not None else "(none: a callback)"
