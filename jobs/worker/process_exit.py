"""How the worker process ends once it has said goodbye, even while a job's thread still runs.

Cancelling a try at shutdown does not stop a thread it was waiting for (`await
asyncio.to_thread(...)`, a plain `def` job, a library's own pool): Python cannot stop a
thread. Two waits would then hold the process as long as that thread runs, past the grace
the platform allows (Heroku SIGKILLs 30 s after SIGTERM): `asyncio.run` (and `uvloop.run`)
shuts the loop's default executor down waiting for its threads, and the interpreter joins
every non-daemon thread at exit.

So the worker owns the loop's default executor (`own_default_executor`), and once its tries
are settled or re-queued and it said goodbye, `end_now_if_threads_run` stops that executor
without waiting, gives every other thread `THREADS_AT_EXIT_S` to end, and if one still runs,
flushes the log and stdio and ends the process at once (`os._exit`). Such a thread dies with
the process; its try was re-queued (not counted) and runs again. Whichever pool started the
thread does not matter: any non-daemon thread alive counts. With no thread left, the process
ends the ordinary way (`atexit` hooks included).
"""

import asyncio
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from jobs.logs import flush_logs

logger = logging.getLogger("jobs.worker")

THREADS_AT_EXIT_S = 1.0
"""How long threads still alive at goodbye get to end by themselves (an idle pool's threads
end at once once it is shut down; a thread running a job's blocking work will not)."""


def own_default_executor() -> ThreadPoolExecutor:
    """Make the running loop's default executor (`asyncio.to_thread`, `run_in_executor(None,
    ...)`) one the worker can shut down without waiting for it."""
    executor = ThreadPoolExecutor(thread_name_prefix="asyncio")
    asyncio.get_running_loop().set_default_executor(executor)
    return executor


def end_now_if_threads_run(executor: ThreadPoolExecutor, code: int = 0) -> None:
    """Return if no thread but the main one is left (within `THREADS_AT_EXIT_S`); else end
    the process now with `code`, its log lines and stdio written first."""
    executor.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + THREADS_AT_EXIT_S
    for thread in _other_threads():
        thread.join(max(deadline - time.monotonic(), 0))
    running = _other_threads()
    if not running:
        return
    logger.warning(
        "exiting with %d threads still running (%s): they end with the process (a try "
        "cancelled at shutdown was re-queued and runs again)",
        len(running),
        ", ".join(t.name for t in running),
    )
    flush_logs()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os._exit(code)


def _other_threads() -> list[threading.Thread]:
    """Alive non-daemon threads besides the main one: those the interpreter would wait for."""
    main = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive()]
