"""Where plain `def` jobs run: a bounded thread pool (`WORKER_THREADS`), off the event loop.

The loop keeps claiming, renewing leases and running `async def` jobs while the threads work.
A thread cannot be killed: at its job's timeout (or an abort, or shutdown) the try is settled
and the worker stops waiting, but the function runs on to its end in its thread, holding one
place of the pool; its return value is dropped (`abandoned` counts such threads). At exit the
process does not wait for them (`jobs.__main__`).
"""

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
from collections.abc import Coroutine
from typing import Any

from pydantic import BaseModel

from jobs.declare.context import JobContext, SyncJobContext
from jobs.declare.registry import JobSpec

logger = logging.getLogger("jobs.worker")

PROGRESS_WAIT_S = 10.0
"""How long a thread's `ctx.progress()` waits for the loop to record it."""


class ThreadRunner:
    def __init__(self, size: int) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(size, thread_name_prefix="job")
        self.abandoned = 0
        """Threads still running a try the worker has stopped waiting for."""

    async def run(self, spec: JobSpec, ctx: dict[str, Any], payload: BaseModel) -> Any:
        """Run `spec`'s function in a thread; its output's JSON."""
        loop = asyncio.get_running_loop()
        context = JobContext.from_arq(ctx, spec.name, spec.max_tries)
        sync = SyncJobContext.of(
            context, functools.partial(_progress, loop, context), functools.partial(_on_loop, loop)
        )
        call = contextvars.copy_context().run
        future = self._pool.submit(call, spec.call_blocking, sync, payload)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if not future.cancel():  # already running: it cannot be stopped
                self.abandoned += 1
                future.add_done_callback(self._returned)
                logger.warning(
                    "a def job's thread runs on after its try was cut off (threads cannot be "
                    "killed); its result will be dropped",
                    extra={"job_id": context.job_id, "job": spec.name},
                )
            raise

    def _returned(self, _future: "concurrent.futures.Future[Any]") -> None:
        self.abandoned -= 1  # from the thread: an int update under the GIL, read for reports

    def shutdown(self) -> None:
        """Start no queued call; do not wait for running ones."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _progress(
    loop: asyncio.AbstractEventLoop, context: JobContext, fraction: float, message: str
) -> bool:
    """`SyncJobContext.progress` from a thread: recorded by the loop, fenced by the lease."""
    recorded = asyncio.run_coroutine_threadsafe(context.progress(fraction, message), loop)
    return recorded.result(PROGRESS_WAIT_S)


def _on_loop(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, Any]) -> Any:
    """A `SyncJobContext` call that needs Redis (a step's read or record), run by the loop."""
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(PROGRESS_WAIT_S)
