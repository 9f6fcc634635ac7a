"""The processes a chaos run drives: Valkey (append-only file on), a Valkey for the history,
a web process, and worker processes each behind its own TCP proxy (`tests.chaos.proxy`)."""

import contextlib
import itertools
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from jobs.layout import keys
from jobs.layout.connection import create_redis
from jobs.layout.embedded_server import EmbeddedRedis
from jobs.layout.serialization import deserialize
from jobs.settings import Settings
from tests.chaos.history import History
from tests.chaos.proxy import Proxy
from tests.support.durable_valkey import DurableValkey
from tests.support.processes import Processes, WorkerProcess

WORKERS = 3
LEASE_S = 2


class Stack:
    def __init__(self, directory: Path, history: History) -> None:
        self.directory = directory
        self.history = history
        self.lease_s = LEASE_S
        self.server = DurableValkey(directory / "valkey", appendfsync="always")
        self.history_server = EmbeddedRedis()
        self.proxies: list[Proxy] = []
        self.workers: list[WorkerProcess] = []
        self.skewed: list[WorkerProcess] = []
        self.skews = 0
        self._slots = itertools.cycle(range(WORKERS))
        self.url = ""

    async def start(self) -> None:
        await self.server.start()
        self.history_server.start()
        self.redis = create_redis(Settings(redis_url=self.server.url))
        self.history_redis = Redis.from_url(self.history_server.url)
        self.processes = Processes(self.server.url, self.redis, self.directory)
        self.web_proxy = Proxy(self.server.port)
        await self.web_proxy.start()
        self.url = await self.processes.web(**self.env(REDIS_URL=self.web_proxy.url))
        for _ in range(WORKERS):
            proxy = Proxy(self.server.port)
            await proxy.start()
            self.proxies.append(proxy)
            self.workers.append(await self._worker(proxy))

    def env(self, **more: str) -> dict[str, str]:
        return {
            "JOB_MODULES": "tests.support.jobs.chaos_jobs",
            "EXAMPLES": "false",
            "CRON_ENABLED": "false",
            "HOUSEKEEPING": "false",
            "LOG_FORMAT": "json",
            "LEASE_S": str(LEASE_S),
            "CHAOS_HISTORY_URL": self.history_server.url,
            **more,
        }

    async def _worker(self, proxy: Proxy) -> WorkerProcess:
        return await self.processes.worker(**self.env(REDIS_URL=proxy.url))

    def next_slot(self) -> int:
        return next(self._slots)

    async def respawn(self, slot: int) -> None:
        self.workers[slot] = await self._worker(self.proxies[slot])

    async def start_skewed(self, skew_s: int) -> tuple[WorkerProcess, Path]:
        """A worker whose clock is `skew_s` off; the previous skewed one is stopped."""
        for old in self.skewed:
            if old.process.poll() is None:
                old.process.terminate()
        env = self.env(CHAOS_CLOCK_SKEW_S=str(skew_s))
        worker = await self.processes.worker("tests.chaos.skewed_clock", **env)
        self.skewed.append(worker)
        self.skews += 1
        return worker, self.processes.log_of(worker)

    async def now_ms(self) -> int:
        """The server clock (the history Valkey's: never faulted, the same host clock)."""
        seconds, micros = await self.history_redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def heartbeat(self, worker_id: str) -> dict[str, Any]:
        raw = await self.redis.get(keys.WORKER + worker_id)
        info: dict[str, Any] = deserialize(raw) if raw else {}
        return info

    async def heartbeat_ms(self, worker_id: str) -> int | None:
        """When `worker_id` last beat (as it says)."""
        at = (await self.heartbeat(worker_id)).get("at")
        return int(at) if at is not None else None

    async def run_id(self) -> str:
        return str((await self.redis.info("server"))["run_id"])

    def refused_oom(self) -> int:
        return sum(1 for r in self.history.refusals if r.code == "redis_out_of_memory")

    async def heal(self) -> None:
        """Every link restored and every worker slot alive (after the schedule)."""
        for proxy in [*self.proxies, self.web_proxy]:
            proxy.restore()
        for slot, worker in enumerate(self.workers):
            if worker.process.poll() is not None:
                await self.respawn(slot)

    async def close(self) -> None:
        self.processes.kill_all()
        for proxy in [*self.proxies, self.web_proxy]:
            await proxy.close()
        with contextlib.suppress(Exception):
            await self.redis.aclose()
            await self.history_redis.aclose()
        self.server.kill()
        self.history_server.stop()
