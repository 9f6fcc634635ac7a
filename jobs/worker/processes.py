"""Where `run_in="process"` jobs run: a pool of child processes (`WORKER_PROCESSES`).

CPU-bound work in a child leaves the worker's event loop free: leases renew, other jobs run.
Each child (`jobs.worker.child`) runs one try at a time; the try's input and output cross as
JSON frames, never pickled. Children start on first use and are reused; a try's timeout counts
from when its child is ready, not from a new child's start-up. A try cut off (its
timeout, an abort, shutdown, a lost lease) kills its child, and the next try starts a new one;
a child that dies (a segfault, `os._exit`, the OOM killer) fails its try with
`ChildProcessDied` and the worker lives on. `close()` kills them all.
"""

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel

from jobs.declare.context import JobContext
from jobs.declare.job_errors import ReportedError
from jobs.declare.registry import JobSpec
from jobs.worker.child import HEADER, encode

logger = logging.getLogger("jobs.worker")

START_TIMEOUT_S = 60.0
"""How long a new child may take to import the catalog."""


class ChildProcessDied(Exception):
    """The child process running a try ended before replying."""


class Child:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def send(self, message: dict[str, Any]) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(encode(message))
            await stdin.drain()
        except ConnectionError:
            raise ChildProcessDied(await self._death()) from None

    async def receive(self) -> dict[str, Any]:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            (size,) = HEADER.unpack(await stdout.readexactly(HEADER.size))
            body = await stdout.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError):
            raise ChildProcessDied(await self._death()) from None
        message: dict[str, Any] = orjson.loads(body)
        return message

    async def _death(self) -> str:
        code = await self.process.wait()
        if code < 0:
            how = f"killed by {signal.Signals(-code).name}"
            if code == -signal.SIGKILL:
                how += " (the OOM killer?)"
        else:
            how = f"exit code {code}"
        return f"the child process running this job died ({how})"

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()


class ChildPool:
    def __init__(self, size: int, job_modules: list[str]) -> None:
        self._room = asyncio.Semaphore(size)
        self._idle: list[Child] = []
        self._live: set[Child] = set()
        self._env = {**os.environ, "JOB_MODULES": ",".join(job_modules)}
        self.started = 0
        """Children started so far (a replaced one counts again)."""

    async def run(
        self,
        spec: JobSpec,
        ctx: dict[str, Any],
        payload: BaseModel,
        ready: Callable[[], None] = lambda: None,
    ) -> Any:
        """Run one try of `spec` in a child; its output's JSON. `ready` is called once a child
        is there to take it: a new child's start-up (importing the catalog, seconds on a busy
        machine, bounded by `START_TIMEOUT_S`) is not the job's time."""
        context = JobContext.from_arq(ctx, spec.name, spec.max_tries)
        request = {
            "job": spec.name,
            "input": payload.model_dump(mode="json"),
            "context": _context(context),
        }
        await self._room.acquire()
        child: Child | None = None
        try:
            child = self._idle_child() or await self._start()
            ready()
            await child.send(request)
            while "progress" in (reply := await child.receive()):
                await context.progress(*reply["progress"])
        except BaseException:
            # Cut off, or dead: whatever the child was doing is unknown; it goes.
            if child is not None:
                self._discard(child)
            self._room.release()
            raise
        self._idle.append(child)
        self._room.release()
        if "error" in reply:
            e = reply["error"]
            raise ReportedError(str(e["type"]), str(e["message"]), bool(e["retryable"]))
        return reply["output"]

    def _idle_child(self) -> Child | None:
        while self._idle:
            child = self._idle.pop()
            if child.alive:
                return child
            self._discard(child)  # died while idle (killed from outside)
        return None

    async def _start(self) -> Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "jobs.worker.child",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=self._env,
        )
        child = Child(process)
        self._live.add(child)
        self.started += 1
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await child.receive()  # {"ready": pid}: the catalog is loaded
        except BaseException:
            self._discard(child)
            raise
        return child

    def _discard(self, child: Child) -> None:
        child.kill()
        self._live.discard(child)
        with contextlib.suppress(ValueError):
            self._idle.remove(child)
        # Reap it in the background: a cancelled try must not wait on it.
        task = asyncio.ensure_future(child.process.wait())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def close(self) -> None:
        """Kill every child and reap them."""
        children = list(self._live)
        for child in children:
            child.kill()
        self._live.clear()
        self._idle.clear()
        if children:
            await asyncio.gather(*(c.process.wait() for c in children), return_exceptions=True)


def _context(context: JobContext) -> dict[str, Any]:
    enqueued: datetime | None = context.enqueued_at
    return {
        "job_id": context.job_id,
        "try": context.try_,
        "enqueued_ms": int(enqueued.timestamp() * 1000) if enqueued else None,
        "worker_id": context.worker_id,
        "lease_token": context.lease_token,
        "parent_results": context.parent_results,
        "parent_failures": context.parent_failures,
        "parent_statuses": context.parent_statuses,
        "batch": context.batch,
    }
