"""The command line of a bench module run on its own (`python -m bench.flow_cost`, ...):
two embedded servers (the queue's, and the tally's for the bookkeeping) unless both are given,
then one JSON result file."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.redis_server import EmbeddedServer

HERE = Path(__file__).resolve().parent
LOG_DIR = HERE / "results" / "logs"

Run = Callable[[str, str, int, int, int, Path], Awaitable[dict[str, Any]]]
"""run(queue url, tally url, n, rounds, samples, log dir) -> result"""


def main(name: str, run: Run, *, n: int, n_help: str, samples: int, samples_help: str) -> None:
    p = argparse.ArgumentParser(prog=f"python -m bench.{name}")
    p.add_argument("--redis", help="queue server (its db is FLUSHDB'd); default: embedded")
    p.add_argument("--tally", help="bookkeeping server (FLUSHDB'd too); default: embedded")
    p.add_argument("--n", type=int, default=n, help=n_help)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--samples", type=int, default=samples, help=samples_help)
    p.add_argument("--log-dir", default=os.fspath(LOG_DIR))
    p.add_argument("--out", default=os.fspath(HERE / "results" / f"{name}.json"))
    args = p.parse_args()
    log_dir = Path(args.log_dir)
    servers = []
    if not (args.redis and args.tally):
        tag = name.split("_")[0]
        servers = [EmbeddedServer(f"{tag}-queue", log_dir), EmbeddedServer(f"{tag}-tally", log_dir)]
    try:
        urls = [s.start() for s in servers] or [args.redis, args.tally]
        result = asyncio.run(run(urls[0], urls[1], args.n, args.rounds, args.samples, log_dir))
    finally:
        for s in servers:
            s.stop()
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "drains"}, indent=2))
