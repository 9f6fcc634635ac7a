"""Run the whole benchmark: `python -m bench` (what `bash bench/run.sh` ends with).

Starts an embedded Valkey for the queues (or uses `BENCH_REDIS_URL`: its db gets FLUSHDB'd)
and one for job bookkeeping (or `BENCH_TALLY_URL`), measures each system with
`python -m bench.measure` in that system's virtualenv, then HTTP enqueue, then writes
results/latest.json, results/chart.png and the results section of README.md.

Then the scale-out parts, ours only, in every round: bulk enqueue from Python
(`bench.bulk_enqueue`), `POST /jobs/{name}/bulk` vs single POSTs (`bench.http_bulk`), a 1/2/4
worker-process scaling table (`bench.scale`), one worker draining jobs that do nothing
(`bench.pure_noop`), the server's cost per job when busy and when paced (`bench.server_busy`),
and once: one server vs a 3-primary cluster (`bench.cluster_drain`).

Environment: BENCH_SYSTEMS (comma list), BENCH_N (5000), BENCH_LAT_COUNT (200),
BENCH_HTTP_REQUESTS (5000), BENCH_HTTP_CONCURRENCY (32), BENCH_TASKIQ_PYTHON, BENCH_ROUNDS (2);
BENCH_BULK_N (20000), BENCH_HTTP_BULK_REQUESTS (60), BENCH_HTTP_BULK_SIZE (500),
BENCH_SCALE_N (10000), BENCH_SCALE_WORKERS (1,2,4), BENCH_BUSY_N (20000), BENCH_PURE_N (20000),
BENCH_CLUSTER_N (12000), BENCH_CLUSTER_WORKERS (2), BENCH_CLUSTER_PYTHON (.venv/bin/python:
it needs the test helpers).
BENCH_ONLY=scale,bulk (any of PARTS) runs just those parts and writes results/logs/partial.json
instead of latest.json and README.md; BENCH_QUICK=1 shrinks every N for a quick check.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench import (
    bulk_enqueue,
    http_bench,
    http_bulk,
    machine,
    pure_noop,
    redis_cost,
    report,
    scale,
    server_busy,
    systems,
)
from bench.redis_server import EmbeddedServer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
LOGS = RESULTS / "logs"
PARTS = ("systems", "http", "bulk", "http_bulk", "scale", "pure", "server_busy", "cluster")
QUICK = {
    "BENCH_N": "1000",
    "BENCH_LAT_COUNT": "50",
    "BENCH_HTTP_REQUESTS": "1000",
    "BENCH_ROUNDS": "1",
    "BENCH_BULK_N": "5000",
    "BENCH_HTTP_BULK_REQUESTS": "10",
    "BENCH_SCALE_N": "3000",
    "BENCH_CLUSTER_N": "3000",
    "BENCH_BUSY_N": "5000",
    "BENCH_PURE_N": "5000",
}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def selected_parts() -> list[str]:
    only = [p.strip() for p in os.environ.get("BENCH_ONLY", "").split(",") if p.strip()]
    unknown = sorted(set(only) - set(PARTS))
    if unknown:
        sys.exit(f"BENCH_ONLY: unknown part(s) {', '.join(unknown)}; parts: {', '.join(PARTS)}")
    return only or list(PARTS)


def guarded(name: str, run: Any) -> dict[str, Any]:
    """Run one part; a failure is reported in its result, the rest of the bench goes on."""
    print(f"[bench] {name} ...", flush=True)
    try:
        result: dict[str, Any] = asyncio.run(run())
    except Exception:
        result = {"error": traceback.format_exc()}
    print(f"[bench] {name}: {report.part_line(name, result)}", flush=True)
    return result


def ours_parts(parts: list[str], redis_url: str, tally_url: str) -> dict[str, Any]:
    """One round of the parts that measure our service alone (scale-out)."""
    out: dict[str, Any] = {}
    if "bulk" in parts:
        out["bulk"] = guarded(
            "bulk", lambda: bulk_enqueue.run(redis_url, env_int("BENCH_BULK_N", 20_000))
        )
    if "http_bulk" in parts:
        out["http_bulk"] = guarded(
            "http_bulk",
            lambda: http_bulk.run(
                redis_url,
                single_requests=min(3000, env_int("BENCH_HTTP_REQUESTS", 5000)),
                conc=env_int("BENCH_HTTP_CONCURRENCY", 32),
                bulk_requests=env_int("BENCH_HTTP_BULK_REQUESTS", 60),
                size=env_int("BENCH_HTTP_BULK_SIZE", 500),
                log_dir=LOGS,
            ),
        )
    if "scale" in parts:
        counts = [int(c) for c in os.environ.get("BENCH_SCALE_WORKERS", "1,2,4").split(",")]
        out["scale"] = guarded(
            "scale",
            lambda: scale.run(redis_url, tally_url, env_int("BENCH_SCALE_N", 10_000), counts, LOGS),
        )
    if "pure" in parts:
        out["pure"] = guarded(
            "pure", lambda: pure_noop.run(redis_url, env_int("BENCH_PURE_N", 20_000), LOGS)
        )
    if "server_busy" in parts:
        out["server_busy"] = guarded(
            "server_busy", lambda: server_busy.run(redis_url, env_int("BENCH_BUSY_N", 20_000))
        )
    return out


async def round_trip(redis_url: str) -> dict[str, float]:
    r = aioredis.Redis.from_url(redis_url)
    try:
        return await redis_cost.round_trip_cost(r)
    finally:
        await r.aclose()


def cluster_part(redis_url: str, tally_url: str) -> dict[str, Any]:
    """`bench.cluster_drain` in the project's virtualenv (the cluster helper lives in tests/)."""
    python = os.environ.get("BENCH_CLUSTER_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
    if not Path(python).exists():
        return {"skipped": f"{python} not found (run `make` first)"}
    if not (ROOT / "tests" / "support" / "cluster.py").exists():
        return {"skipped": "tests/support/cluster.py not found"}
    out = LOGS / "cluster.json"
    out.unlink(missing_ok=True)
    argv = [python, "-m", "bench.cluster_drain", "--redis", redis_url, "--tally", tally_url]
    argv += ["--n", str(env_int("BENCH_CLUSTER_N", 12_000))]
    argv += ["--workers", str(env_int("BENCH_CLUSTER_WORKERS", 2)), "--out", str(out)]
    argv += ["--log-dir", str(LOGS)]
    print("[bench] cluster ...", flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(LOGS / "cluster-driver.log", "wb") as log:
        proc = subprocess.run(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=180, check=False
        )
    if proc.returncode != 0 or not out.exists():
        tail = (LOGS / "cluster-driver.log").read_text(errors="replace")[-1500:]
        result: dict[str, Any] = {"error": f"driver exit {proc.returncode}: {tail}"}
    else:
        result = json.loads(out.read_text())
    print(f"[bench] cluster: {report.part_line('cluster', result)}", flush=True)
    return result


def python_for(name: str) -> str:
    if systems.SYSTEMS[name][1] == "taskiq":
        return os.environ.get("BENCH_TASKIQ_PYTHON", str(HERE / ".venv-taskiq" / "bin" / "python"))
    return sys.executable


def ours_missing() -> str | None:
    for path in ("jobs/__main__.py", "jobs/enqueue/submit.py", "settings.py"):
        if not (ROOT / path).exists():
            return f"{path} not found"
    return None


def measure(name: str, redis_url: str, tally_url: str) -> dict[str, Any]:
    if name == "ours" and (why := ours_missing()):
        return {"system": name, "skipped": why}
    out = LOGS / f"{name}.json"
    out.unlink(missing_ok=True)
    argv = [
        python_for(name),
        "-m",
        "bench.measure",
        "--system",
        name,
        "--redis",
        redis_url,
        "--tally",
        tally_url,
        "--out",
        str(out),
        "--n",
        os.environ.get("BENCH_N", "5000"),
        "--lat-count",
        os.environ.get("BENCH_LAT_COUNT", "200"),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_REDIS_URL": redis_url}
    t0 = time.monotonic()
    with open(LOGS / f"{name}-driver.log", "wb") as log:
        proc = subprocess.run(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=300, check=False
        )
    if proc.returncode != 0 or not out.exists():
        tail = (LOGS / f"{name}-driver.log").read_text(errors="replace")[-1500:]
        return {"system": name, "errors": [f"driver exit {proc.returncode}: {tail}"]}
    result: dict[str, Any] = json.loads(out.read_text())
    result["elapsed_s"] = time.monotonic() - t0
    return result


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-figure median over rounds (numbers); everything else from the first round."""

    def merge(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, dict):
            return {
                k: merge([v[k] for v in values if isinstance(v, dict) and k in v]) for k in first
            }
        if isinstance(first, int | float) and not isinstance(first, bool):
            numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
            return statistics.median(numbers)
        return first

    merged: dict[str, Any] = merge(runs)
    return merged


def main() -> None:
    if os.environ.get("BENCH_QUICK"):
        for name, value in QUICK.items():
            os.environ.setdefault(name, value)
    LOGS.mkdir(parents=True, exist_ok=True)
    parts = selected_parts()
    names = [s for s in os.environ.get("BENCH_SYSTEMS", ",".join(systems.SYSTEMS)).split(",") if s]
    if "systems" not in parts:
        names = []
    servers: list[EmbeddedServer] = []
    redis_url = os.environ.get("BENCH_REDIS_URL")
    tally_url = os.environ.get("BENCH_TALLY_URL")
    try:
        if not redis_url:
            servers.append(EmbeddedServer("queues", LOGS))
            redis_url = servers[-1].start()
        if not tally_url:
            servers.append(EmbeddedServer("tally", LOGS))
            tally_url = servers[-1].start()
        results: dict[str, Any] = {
            "machine": machine.describe(redis_url),
            "systems": {},
            "n": env_int("BENCH_N", 5000),
            "parts": parts,
        }
        results["round_trip"] = asyncio.run(round_trip(redis_url))
        rounds = env_int("BENCH_ROUNDS", 2)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        ours_runs: list[dict[str, Any]] = []
        ours_ok = not ours_missing()
        for round_no in range(1, rounds + 1):  # interleaved, so drift hits every system alike
            for name in names:
                print(f"[bench] round {round_no}/{rounds}: {name} ...", flush=True)
                runs[name].append(measure(name, redis_url, tally_url))
                print(f"[bench] {name}: {report.one_line(runs[name][-1])}", flush=True)
            if ours_ok:
                ours_runs.append(ours_parts(parts, redis_url, tally_url))
        for name, system_runs in runs.items():
            results["systems"][name] = median_of(system_runs)
            # Exactly once must hold in every round, not on average.
            results["systems"][name]["exactly_once_all_rounds"] = all(
                report.exactly_once(r) for r in system_runs
            )
        for part in ("bulk", "http_bulk", "scale", "pure", "server_busy"):
            part_runs = [r[part] for r in ours_runs if part in r and "error" not in r[part]]
            if part_runs:
                results[part] = median_of(part_runs)
                results[part]["rounds"] = len(part_runs)
            elif any(part in r for r in ours_runs):
                results[part] = next(r[part] for r in ours_runs if part in r)
        if isinstance(results.get("pure"), dict) and "error" not in results["pure"]:
            for level, drain in results["pure"].items():
                if isinstance(drain, dict):  # every round, not the first one's
                    drain["exactly_once"] = all(
                        r["pure"][level].get("exactly_once")
                        for r in ours_runs
                        if level in r.get("pure", {})
                    )
        if "scale" in results and "drains" in results["scale"]:
            results["scale"]["exactly_once_all_rounds"] = all(
                report.drains_ok(r["scale"]) for r in ours_runs if "drains" in r.get("scale", {})
            )
        results["rounds"] = rounds
        if "http" in parts and ours_ok:
            print("[bench] HTTP enqueue ...", flush=True)
            results["http"] = asyncio.run(
                http_bench.run(
                    redis_url,
                    env_int("BENCH_HTTP_REQUESTS", 5000),
                    env_int("BENCH_HTTP_CONCURRENCY", 32),
                    LOGS,
                )
            )
        if "cluster" in parts and ours_ok:
            results["cluster"] = cluster_part(redis_url, tally_url)
    finally:
        for server in servers:
            server.stop()
    if os.environ.get("BENCH_ONLY"):
        partial = LOGS / "partial.json"
        partial.write_text(json.dumps(results, indent=2) + "\n")
        print(f"[bench] BENCH_ONLY: wrote {partial} (latest.json and README.md untouched)")
    else:
        (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
        report.write(results, RESULTS / "chart.png", HERE / "README.md")
        print(f"[bench] wrote {RESULTS / 'latest.json'}, chart.png, README.md", flush=True)
    failed = [
        n
        for n, r in results["systems"].items()
        if not (report.exactly_once(r) and r.get("exactly_once_all_rounds", True))
    ]
    failed += [part for part in ("scale", "cluster") if not report.part_exactly_once(results, part)]
    if failed:
        print(f"[bench] exactly-once check FAILED for: {', '.join(failed)}", flush=True)
    # A peer that loses or repeats a job is a finding (reported above and in the README);
    # the harness fails only when ours does.
    if set(failed) & {"ours", "scale", "cluster"}:
        sys.exit(1)


if __name__ == "__main__":
    main()
