"""What tracing costs the worker per job, on and off in the same run.

`python -m bench.tracing_cost --redis URL [--n 10000] [--rounds 3]`

One worker process drains `n` no-op jobs (`bench_pass`) at `LOG_LEVEL=WARNING`, once per
variant, the variants in alternating order from round to round:

- off: no `OTEL_EXPORTER_OTLP_ENDPOINT` (the default); the jobs carry no trace context.
- on: the endpoint set (a sink in this process that answers 200 to every export), the jobs
  enqueued inside a span of this process, so each stores a `traceparent` and every try is a
  sampled span, batched, encoded and posted by the worker.
- on, unsampled: the same, with `OTEL_TRACES_SAMPLER=always_off` in the worker (spans made,
  none recorded or exported).
- off, before (`--before DIR`): the worker of another tree (e.g. `git archive` of the commit
  before tracing), as "off": what the change costs a process without the variable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench import procs
from bench.pure_noop import LOG_DIR, drain
from jobs import tracing


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def sink() -> Iterator[str]:
    """An OTLP/HTTP endpoint that takes every export and keeps nothing: its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def trace_this_process(endpoint: str) -> None:
    """Tracing on here (so the enqueues store a trace context), not in the workers' env."""
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    try:
        tracing.configure_from_environment("bench")
    finally:
        del os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]


@contextlib.contextmanager
def worker_tree(root: Path | None) -> Iterator[None]:
    """Workers started meanwhile run `root`'s code (its `jobs`), not this tree's."""
    if root is None:
        yield
        return
    saved, procs.ROOT = procs.ROOT, root
    try:
        yield
    finally:
        procs.ROOT = saved


async def run(redis_url: str, n: int, rounds: int, before: Path | None) -> dict[str, Any]:
    with sink() as endpoint:
        trace_this_process(endpoint)
        variants: dict[str, tuple[dict[str, str], bool]] = {
            "off": ({}, False),
            "on": ({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}, True),
            "on, unsampled": (
                {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_TRACES_SAMPLER": "always_off"},
                True,
            ),
        }
        if before is not None:
            variants["off, before"] = ({}, False)
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        order = list(variants)
        for r in range(rounds):
            for variant in order if r % 2 == 0 else order[::-1]:
                env, traced = variants[variant]
                tree = worker_tree(before if variant == "off, before" else None)
                with (
                    tree,
                    tracing.span("bench enqueue", {}) if traced else contextlib.nullcontext(),
                ):
                    result = await drain(redis_url, n, "WARNING", LOG_DIR, 300.0, env=env)
                runs[variant].append(result)
        tracing.shutdown()  # this process's own span, while the sink still answers
    summary = {}
    for variant, results in runs.items():
        assert all(x["exactly_once"] for x in results), (variant, results)
        summary[variant] = {
            "jobs_per_s": statistics.median(x["jobs_per_s"] for x in results),
            "worker_cpu_us_per_job": statistics.median(x["worker_cpu_us_per_job"] for x in results),
            "cpu_runs": [round(x["worker_cpu_us_per_job"], 1) for x in results],
        }
    return summary


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--redis", required=True, help="queue server (its db is FLUSHDB'd)")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--before", type=Path, help="another tree whose worker runs 'off, before'")
    a = p.parse_args()
    print(json.dumps(asyncio.run(run(a.redis, a.n, a.rounds, a.before)), indent=2))


if __name__ == "__main__":
    main()
