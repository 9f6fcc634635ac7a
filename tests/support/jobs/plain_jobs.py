"""Plain functions as jobs, as a FastAPI user brings them from `BackgroundTasks`: `def`s run in
the worker's threads, `run_in="process"` ones in child processes, and signatures instead of
models. They leave their traces in files the test names (a thread or a child has no Redis)."""

import os
import signal
import threading
import time
from pathlib import Path
from typing import Annotated

from pydantic import Field

from jobs.declare.context import SyncJobContext
from jobs.declare.registry import job


def _append(path: str, text: str) -> None:
    with Path(path).open("a") as out:
        out.write(text + "\n")


@job(max_tries=3)
def write_log(log: str, message: str, urgent: bool = False) -> None:
    """The FastAPI tutorial's `BackgroundTasks` function, as a job."""
    _append(log, f"{'URGENT ' if urgent else ''}{message} in {threading.current_thread().name}")


@job()
def shout(message: Annotated[str, Field(min_length=1, max_length=20)], times: int = 1) -> str:
    return " ".join([message.upper()] * times)


@job()
async def add(a: int, b: int) -> int:
    """An `async def` with a signature instead of models."""
    return a + b


@job(max_tries=2)
def count_steps(ctx: SyncJobContext, steps: int, log: str) -> dict[str, int]:
    """Reports progress from its thread, then returns how many steps were recorded."""
    recorded = sum(ctx.progress((i + 1) / steps, f"step {i + 1}") for i in range(steps))
    _append(log, f"try {ctx.try_} of {ctx.job_id}")
    return {"steps": steps, "recorded": recorded}


@job(max_tries=2, timeout=1)
def sleep_forever(log: str) -> None:
    """Blocks past its timeout (a thread cannot be killed)."""
    _append(log, "started")
    time.sleep(3600)


@job(run_in="process", timeout=120)
def crunch(ctx: SyncJobContext, seconds: float, log: str = "") -> dict[str, int]:
    """CPU-bound: spins for `seconds` in a child process, reporting progress."""
    started, spins = time.monotonic(), 0
    while time.monotonic() - started < seconds:
        spins += sum(i * i for i in range(1000)) > 0
        if spins % 2000 == 0:
            ctx.progress(min((time.monotonic() - started) / seconds, 1.0), "spinning")
    if log:
        _append(log, f"crunched in pid {os.getpid()}")
    return {"pid": os.getpid(), "spins": spins}


@job(run_in="process", max_tries=2, timeout=60)
def die(how: str, log: str) -> None:
    """Ends its child process the hard way: `exit` (os._exit), `segfault`, `kill` (SIGKILL)."""
    _append(log, f"dying by {how} in pid {os.getpid()}")
    if how == "exit":
        os._exit(3)
    os.kill(os.getpid(), signal.SIGSEGV if how == "segfault" else signal.SIGKILL)


@job(run_in="process")
def wrong_output(value: str) -> int:
    return value  # type: ignore[return-value]


@job(run_in="process", max_tries=2, timeout=1)
def spin_forever(log: str) -> None:
    _append(log, f"spinning in pid {os.getpid()}")
    while True:
        pass


@job(timeout=600)
def sleep_long(log: str, seconds: float) -> None:
    """Blocks its thread for `seconds` (within its timeout): a SIGTERM comes first."""
    _append(log, "started")
    time.sleep(seconds)
