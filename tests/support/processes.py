"""The real processes end-to-end tests run: `python -m jobs` workers and a uvicorn web process.

`Processes` gives each process the test Redis and short timings through its environment,
writes its log to the test's tmp dir, and kills it at teardown whatever happened (the
`processes` fixture). `stop_all` and `wait_ready` stop and wait for processes started some
other way (`make run`, honcho, an installed wheel, the dashboard's live stack).
"""

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.layout.serialization import deserialize
from scripts.embedded_redis import free_port
from tests.support.queues import TEST_QUEUES
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]

BASE_ENV = {
    "JOB_MODULES": "tests.support.jobs.probe_jobs",
    "EXAMPLES": "true",  # the tests enqueue the example jobs (ping, send_email...)
    "QUEUES": ",".join(TEST_QUEUES),  # the queues tests name (`tests.support.queues`)
    "LEASE_S": "2",
    "HEARTBEAT_S": "1",
    "SHUTDOWN_GRACE_S": "5",
    "POLL_FALLBACK_S": "0.5",
    "BACKOFF_BASE_S": "0.01",
    "BACKOFF_MAX_S": "0.05",
    "API_KEYS": "",
    "LOG_LEVEL": "INFO",
    "PYTHONUNBUFFERED": "1",
}


@dataclass
class WorkerProcess:
    process: "subprocess.Popen[bytes]"
    worker_id: str

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class Processes:
    redis_url: str
    redis: RedisClient
    logs: Path
    started: list["subprocess.Popen[bytes]"] = field(default_factory=list)

    def _spawn(self, args: list[str], name: str, env: dict[str, str]) -> "subprocess.Popen[bytes]":
        full_env = {**os.environ, **BASE_ENV, "REDIS_URL": self.redis_url, **env}
        log = (self.logs / f"{name}-{len(self.started)}.log").open("wb")
        process = subprocess.Popen(
            args, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.started.append(process)
        return process

    async def worker(self, module: str = "jobs", **env: str) -> WorkerProcess:
        """Start `python -m jobs` (or another entry `module` that runs it); return once its
        first heartbeat is in Redis."""
        process = self._spawn([sys.executable, "-m", module], "worker", env)
        found: list[str] = []

        async def beating() -> bool:
            assert process.poll() is None, f"worker exited with {process.returncode}"
            for member in await self.redis.zrange(keys.WORKERS, 0, -1):
                if f":{process.pid}:" in member.decode():
                    found.append(member.decode())
                    return True
            return False

        await eventually(beating, timeout_s=15, interval_s=0.05)
        return WorkerProcess(process, found[0])

    async def web(self, **env: str) -> str:
        """Start the web process under uvicorn; return its base URL once it answers."""
        port = free_port()
        args = [sys.executable, "-m", "uvicorn", "service.main:app", "--port", str(port)]
        process = self._spawn(args, "web", env)
        url = f"http://127.0.0.1:{port}"

        async def healthy() -> bool:
            assert process.poll() is None, f"web exited with {process.returncode}"
            try:
                async with httpx.AsyncClient(base_url=url, timeout=2) as client:
                    return (await client.get("/health")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(healthy, timeout_s=15, interval_s=0.05)
        return url

    async def heartbeat(self, worker: WorkerProcess) -> dict[str, object]:
        raw = await self.redis.get(keys.WORKER + worker.worker_id)
        info: dict[str, object] = deserialize(raw) if raw else {}
        return info

    def log_text(self, name: str) -> str:
        """Everything the processes called `name` ("worker", "web") have written so far."""
        logs = sorted(self.logs.glob(f"{name}-*.log"))
        return "".join(log.read_text(errors="replace") for log in logs)

    def log_of(self, worker: WorkerProcess) -> Path:
        """The log file of `worker` (named by its start order)."""
        return self.logs / f"worker-{self.started.index(worker.process)}.log"

    def kill_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
        for process in self.started:
            process.wait(10)


async def exit_code(process: "subprocess.Popen[bytes]", timeout_s: float = 10.0) -> int:
    """Wait (without blocking the loop) for `process` to exit; its exit code."""

    async def exited() -> bool:
        return process.poll() is not None

    await eventually(exited, timeout_s=timeout_s, interval_s=0.05)
    return process.returncode


def sigterm(process: "subprocess.Popen[bytes]") -> None:
    process.send_signal(signal.SIGTERM)


@dataclass
class Stack:
    """A web process and a worker started together (the dashboard's `live_stack`)."""

    url: str
    api_key: str
    read_key: str = ""
    """A key of `API_KEYS_READ`: it may only look."""


def stop_all(processes: "list[subprocess.Popen[bytes]]", grace_s: float = 15) -> None:
    """SIGTERM each process group (as a platform would), SIGKILL what outlives the grace."""
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def wait_ready(url: str, timeout_s: float = 30) -> None:
    """Until `GET /ready` answers 200: Redis reachable and a worker heartbeat fresh."""

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient(base_url=url) as client:
                return (await client.get("/ready")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(ready, timeout_s=timeout_s, interval_s=0.1)
