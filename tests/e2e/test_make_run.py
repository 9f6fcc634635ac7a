"""`make run` (`python -m scripts.run`): Ctrl-C (or SIGTERM) with a job running stops web and
worker first, the worker keeps its whole `SHUTDOWN_GRACE_S` (honcho would SIGKILL it after 5 s)
while the embedded server is still up, then the server stops; nothing is left running."""

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from jobs.layout.connection import create_redis
from scripts.embedded_redis import free_port
from settings import Settings
from tests.support.processes import exit_code, wait_ready
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e

GRACE_S = 8
HONCHO_DEFAULT_KILL_WAIT_S = 5
HOLD_S = HONCHO_DEFAULT_KILL_WAIT_S + 1
"""The job still runs this long after the signal: past honcho's default SIGKILL, within grace."""


@dataclass
class Launcher:
    process: "subprocess.Popen[bytes]"
    url: str
    output: Path
    tree: list[psutil.Process] = field(default_factory=list)

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def snapshot(self) -> list[psutil.Process]:
        """The launcher and everything below it (honcho's children run in their own sessions,
        the embedded server too: a process group alone would not find them)."""
        self.tree = [psutil.Process(self.process.pid), *self.tree_below()]
        return self.tree

    def tree_below(self) -> list[psutil.Process]:
        try:
            return list(psutil.Process(self.process.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            return []


def running(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    with launched(tmp_path, free_port(), free_port()) as started:
        yield started


@contextlib.contextmanager
def launched(tmp_path: Path, port: int, redis_port: int) -> Iterator[Launcher]:
    """`python -m scripts.run` with its embedded server on `redis_port`, data in tmp_path."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "PYTHONPATH"}}
    env.update(
        EMBEDDED_REDIS_PORT=str(redis_port),
        EMBEDDED_REDIS_DIR=str(tmp_path / "data"),
        PORT=str(port),
        JOB_MODULES="tests.support.jobs.probe_jobs",
        SHUTDOWN_GRACE_S=str(GRACE_S),
        HEARTBEAT_S="1",
        API_KEYS="",
        PYTHONUNBUFFERED="1",
    )
    output = tmp_path / f"make-run-{time.monotonic_ns()}.log"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the test's "terminal"
        )
    started = Launcher(process, f"http://127.0.0.1:{port}", output)
    try:
        yield started
    finally:
        for leftover in [*started.tree, *started.tree_below()]:
            if running(leftover):
                leftover.kill()
        if process.poll() is None:
            process.kill()
        process.wait(10)


async def embedded_url(launcher: Launcher) -> str:
    found: list[str] = []

    async def printed() -> bool:
        assert launcher.process.poll() is None, launcher.text()
        found.extend(re.findall(r"embedded Valkey at (redis://\S+)", launcher.text()))
        return bool(found)

    await eventually(printed, timeout_s=15)
    return found[0]


def ctrl_c(launcher: "subprocess.Popen[bytes]") -> None:
    os.killpg(launcher.pid, signal.SIGINT)  # what a terminal sends its foreground group


def sigterm(launcher: "subprocess.Popen[bytes]") -> None:
    launcher.send_signal(signal.SIGTERM)  # e.g. a supervisor stopping `make run`


@pytest.mark.parametrize("stop", [ctrl_c, sigterm], ids=["ctrl-c", "sigterm"])
async def test_stop_gives_the_worker_its_grace_then_stops_everything(
    launcher: Launcher, stop: Callable[["subprocess.Popen[bytes]"], None]
) -> None:
    redis_url = await embedded_url(launcher)
    await wait_ready(launcher.url)
    redis = create_redis(Settings(redis_url=redis_url))
    events = redis.pubsub()
    try:
        await events.subscribe("jobsvc:events")
        async with httpx.AsyncClient(base_url=launcher.url, timeout=10) as client:
            created = await client.post("/jobs/wait_for_gate", json={"gate": "test:gate"})
            assert created.status_code == 202, created.text
            job_id = created.json()["id"]

            async def in_progress() -> bool:
                view = (await client.get(f"/jobs/{job_id}")).json()
                return bool(view["status"] == "in_progress")

            await eventually(in_progress, timeout_s=15)

        tree = launcher.snapshot()
        commands = [" ".join(p.cmdline()) for p in tree]
        for part in ("valkey-server", "-m jobs", "uvicorn"):
            assert any(part in command for command in commands), commands

        stop(launcher.process)
        signalled = time.monotonic()
        # The scenario, not a wait for a condition: the job needs longer than honcho's default
        # KILL_WAIT after the signal, and less than the worker's grace.
        await asyncio.sleep(HOLD_S)
        await redis.set("test:gate", 1)
        finished: list[str] = []

        async def settled() -> bool:
            message = await events.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message is not None and isinstance(message["data"], bytes):
                words = message["data"].decode().split()
                finished.extend(words[1:] if words[0] == "finished" else [])
            return job_id in finished

        # The outcome was stored while the embedded server was still up.
        await eventually(settled, timeout_s=GRACE_S)
    finally:
        await events.aclose()  # type: ignore[no-untyped-call]
        await redis.aclose()

    async def all_exited() -> bool:
        return launcher.process.poll() is not None and not any(running(p) for p in tree)

    await eventually(all_exited, timeout_s=signalled + GRACE_S + 10 - time.monotonic())
    output = launcher.text()
    complete = [line for line in output.splitlines() if "job complete" in line]
    assert any(f"job_id={job_id}" in line for line in complete), output
    assert "SIGKILL" not in output, output


async def test_the_readme_tour_queues_are_declared_and_served(launcher: Launcher) -> None:
    """The README's `?queue=critical` and its workflow node on `other` run under `make run`
    (it declares them: `QUEUES`); a queue nothing declares is refused."""
    await wait_ready(launcher.url, timeout_s=30)
    async with httpx.AsyncClient(base_url=launcher.url, timeout=30) as client:
        urgent = await client.post("/jobs/ping", params={"queue": "critical", "priority": 0})
        assert urgent.status_code == 202, urgent.text
        nodes = {
            "a": {"job": "ping", "input": {"message": "one"}},
            "b": {"job": "ping", "input": {"message": "two"}, "queue": "other"},
            "c": {"job": "ping", "input": {}, "after": ["a", "b"], "on_parent_failure": "ignore"},
        }
        flow = await client.post("/workflows", json={"nodes": nodes})
        assert flow.status_code == 202, flow.text
        made_up = await client.post("/jobs/ping", params={"queue": "made-up"})
        assert made_up.status_code == 422 and made_up.json()["error"]["code"] == "unknown_queue"
        for job_id in (urgent.json()["id"], flow.json()["nodes"]["c"]["job_id"]):
            view = (await client.get(f"/jobs/{job_id}", params={"wait": 20})).json()
            assert view["status"] == "complete", view


async def test_a_restart_keeps_the_jobs(tmp_path: Path) -> None:
    """`make run` keeps its data: a job queued before Ctrl-C is there after the next start."""
    port, redis_port = free_port(), free_port()
    with launched(tmp_path, port, redis_port) as first:
        await wait_ready(first.url)
        async with httpx.AsyncClient(base_url=first.url, timeout=10) as client:
            created = await client.post("/jobs/ping", params={"defer_by": 3600}, json={})
            assert created.status_code == 202, created.text
        ctrl_c(first.process)
        assert await exit_code(first.process, timeout_s=30) in (0, 130)
    with launched(tmp_path, port, redis_port) as second:
        await wait_ready(second.url)
        async with httpx.AsyncClient(base_url=second.url, timeout=10) as client:
            view = (await client.get(f"/jobs/{created.json()['id']}")).json()
        assert view["status"] == "deferred" and view["input"] == created.json()["input"]
        assert f"data in {tmp_path / 'data'}" in second.text()
