"""What the queue server spends per job: CPU (`INFO cpu`), memory kept (`INFO memory`), commands.

Works with any asyncio redis-py client (redis 5 in bench/.venv, redis 8 in the taskiq one).

- CPU: `used_cpu_sys + used_cpu_user` of the server process, before and after a phase, in µs
  per job. It counts everything the server did meanwhile (including its own cron and the
  bench's few INFO calls), which over thousands of jobs is noise.
- Memory kept: `used_memory` before the enqueue minus after every job finished, less the change
  in client buffers (`mem_clients_normal`: workers connect after the first snapshot) and in the
  Lua script cache (`used_memory_scripts_eval`: loaded once per server, not per job).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any


async def prepare(r: Any) -> None:
    """Turn the server's per-command latency histograms off (Redis/Valkey 7+ `latency-tracking`,
    on by default): each is an HDR histogram of ~24 KB, created on a command's first call and
    freed by CONFIG RESETSTAT, which would add or remove hundreds of KB between two memory
    snapshots. Older servers have no such setting: nothing to do."""
    with contextlib.suppress(Exception):
        await r.config_set("latency-tracking", "no")


async def round_trip_cost(r: Any, n: int = 2000) -> dict[str, float]:
    """The machine's floor: server CPU of one sequential PING round trip (read, reply, wait),
    and of one PING in a pipeline. A no-op job costs at least a few round trips."""
    await r.ping()
    before = await snapshot(r)
    t0 = time.perf_counter()
    for _ in range(n):
        await r.ping()
    elapsed = time.perf_counter() - t0
    mid = await snapshot(r)
    pipe = r.pipeline(transaction=False)
    for _ in range(n):
        pipe.ping()
    await pipe.execute()
    after = await snapshot(r)
    return {
        "ping_round_trips_per_s": n / elapsed,
        "ping_round_trip_cpu_us": (mid["cpu_s"] - before["cpu_s"]) * 1e6 / n,
        "ping_pipelined_cpu_us": (after["cpu_s"] - mid["cpu_s"]) * 1e6 / n,
    }


async def snapshot(r: Any, settle_s: float = 5.0) -> dict[str, float]:
    """CPU and memory figures, once no lazy free is pending (Valkey 8 frees FLUSHDB'd and
    DEL'd values in a background thread by default: `lazyfree-lazy-user-flush yes`)."""
    deadline = time.monotonic() + settle_s
    while True:
        mem = await r.info("memory")
        if not int(mem.get("lazyfree_pending_objects", 0)) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.01)
    cpu = await r.info("cpu")
    return {
        "cpu_s": float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]),
        "used_memory": float(mem["used_memory"]),
        "clients": float(mem.get("mem_clients_normal", 0)),
        "scripts": float(mem.get("used_memory_scripts_eval", mem.get("used_memory_scripts", 0))),
    }


def cpu_us_per_job(before: dict[str, float], after: dict[str, float], n: int) -> float | None:
    return (after["cpu_s"] - before["cpu_s"]) * 1e6 / n if n else None


def kept_bytes_per_job(before: dict[str, float], after: dict[str, float], n: int) -> float | None:
    if not n:
        return None
    kept = (
        (after["used_memory"] - before["used_memory"])
        - (after["clients"] - before["clients"])
        - (after["scripts"] - before["scripts"])
    )
    return kept / n


async def short_lived_bytes(r: Any, within_ms: int = 60_000) -> int:
    """`MEMORY USAGE` summed over the keys that expire within `within_ms` (e.g. our claim
    records, kept for a lease): part of the memory kept right after a drain, gone soon after."""
    names = [k async for k in r.scan_iter(count=1000)]
    total = 0
    for start in range(0, len(names), 500):
        pipe = r.pipeline(transaction=False)
        for name in names[start : start + 500]:
            pipe.pttl(name)
            pipe.memory_usage(name, samples=0)
        replies = await pipe.execute()
        for ttl, usage in zip(replies[::2], replies[1::2], strict=True):
            if ttl is not None and 0 <= int(ttl) <= within_ms:
                total += int(usage or 0)
    return total


async def commandstats(r: Any) -> dict[str, int]:
    """Calls per command since the last CONFIG RESETSTAT (CONFIG itself left out)."""
    info = await r.info("commandstats")
    calls = {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}
    return {k: v for k, v in calls.items() if not k.startswith("config")}
