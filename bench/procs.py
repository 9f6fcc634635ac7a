"""Worker processes: spawn as real subprocesses, sample their RSS, stop them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


class Workers:
    """`count` worker processes of one system, each in its own process group."""

    def __init__(
        self, argv: list[str], env: dict[str, str], count: int, log_dir: Path, tag: str
    ) -> None:
        self.argv, self.env, self.count = argv, env, count
        self.log_dir, self.tag = log_dir, tag
        self.procs: list[subprocess.Popen[bytes]] = []
        self.peak_rss: list[int] = [0] * count
        self.started_at = 0.0

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # EXAMPLES: the HTTP benchmarks enqueue `ping`, an example job (as before it was opt-in).
        env = {"EXAMPLES": "true", **os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        env["PYTHONUNBUFFERED"] = "1"
        self.started_at = time.time()
        for i in range(self.count):
            log = open(self.log_dir / f"{self.tag}-w{i}.log", "wb")  # noqa: SIM115
            self.procs.append(
                subprocess.Popen(
                    self.argv,
                    env=env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            log.close()

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def sample_rss(self) -> None:
        """Add up the RSS of each worker's process tree; keep the peak per worker."""
        for i, proc in enumerate(self.procs):
            try:
                root = psutil.Process(proc.pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            total = 0
            for p in tree:
                with contextlib.suppress(psutil.NoSuchProcess):
                    total += p.memory_info().rss
            self.peak_rss[i] = max(self.peak_rss[i], total)

    def cpu_s(self) -> float:
        """CPU time (user + system) used so far by the workers' process trees."""
        total = 0.0
        for proc in self.procs:
            try:
                root = psutil.Process(proc.pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for p in tree:
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = p.cpu_times()
                    total += times.user + times.system
        return total

    def stop(self, timeout_s: float = 15.0) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for p in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(max(0.1, deadline - time.monotonic()))
        for p in self.procs:
            # Anything left in the group we created (e.g. taskiq's worker child) goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
            if p.poll() is None:
                p.wait()
