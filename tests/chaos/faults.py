"""The faults, each a step of the schedule on the real processes of a `Stack`.

A step injects its fault, holds it, heals it, and writes down what proves that it happened
(`FaultStep.evidence`, `happened`): a run whose faults did not bite proves nothing.
"""

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import orjson
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from jobs.worker import heartbeat
from tests.chaos.history import FaultStep

if TYPE_CHECKING:
    from tests.chaos.stack import Stack

CLOCK_SKEW_S = 600
"""How far off the skewed worker's wall clock is (ahead, then behind on the next step)."""


def _state(pid: int) -> str:
    """The process state letter from /proc ("T": stopped)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text.rsplit(")", 1)[1].split()[0]


async def partition(stack: "Stack", step: FaultStep, hold_s: float) -> None:
    """One worker's link to Redis goes silent, sockets open, past its lease."""
    slot = stack.next_slot()
    proxy, worker = stack.proxies[slot], stack.workers[slot]
    step.target = worker.worker_id
    proxy.silence()
    await asyncio.sleep(0.2)  # what was already on its way has landed
    before = await stack.heartbeat_ms(worker.worker_id)
    await asyncio.sleep(max(hold_s, stack.lease_s * 2 + 1) - 0.2)
    after = await stack.heartbeat_ms(worker.worker_id)
    proxy.restore()
    step.evidence = {"heartbeat_before_ms": before, "heartbeat_at_heal_ms": after}
    # No heartbeat got through for the whole silence.
    step.happened = before is not None and before == after


async def web_partition(stack: "Stack", step: FaultStep, hold_s: float) -> None:
    """The web process's link to Redis goes silent (sockets open): enqueues wait, then go on."""
    step.target = "web"
    stack.web_proxy.silence()
    try:
        async with httpx.AsyncClient(base_url=stack.url, timeout=1) as client:
            try:
                answered = (await client.get("/ready")).status_code == 200
            except httpx.TimeoutException:
                answered = False
        await asyncio.sleep(max(hold_s - 1, 1))
    finally:
        stack.web_proxy.restore()
    step.evidence = {"ready_within_1s": answered}
    step.happened = not answered


async def latency(stack: "Stack", step: FaultStep, hold_s: float) -> None:
    """100-300 ms added to every round trip of every worker."""
    step.target = "all workers"
    for proxy in stack.proxies:
        proxy.delay(0.1, 0.3)
    probe = Redis.from_url(stack.proxies[0].url)
    rtts = []
    try:
        deadline = time.monotonic() + hold_s
        while time.monotonic() < deadline:
            began = time.monotonic()
            await probe.ping()
            rtts.append(time.monotonic() - began)
            await asyncio.sleep(0.2)
    finally:
        await probe.aclose()
        for proxy in stack.proxies:
            proxy.restore()
    step.evidence = {"pings": len(rtts), "min_rtt_ms": round(min(rtts, default=0) * 1000)}
    step.happened = bool(rtts) and min(rtts) >= 0.1


async def flapping(stack: "Stack", step: FaultStep, hold_s: float) -> None:
    """One worker's link resets every connection, stays down 0.5 s, comes up for 0.7 s..."""
    slot = stack.next_slot()
    proxy = stack.proxies[slot]
    step.target = stack.workers[slot].worker_id
    resets_before, flaps = proxy.resets, 0
    deadline = time.monotonic() + hold_s
    while time.monotonic() < deadline:
        proxy.flap()
        flaps += 1
        await asyncio.sleep(0.5)
        proxy.restore()
        await asyncio.sleep(0.7)
    step.evidence = {"flaps": flaps, "connections_reset": proxy.resets - resets_before}
    step.happened = proxy.resets > resets_before


async def sigstop(stack: "Stack", step: FaultStep, hold_s: float) -> None:
    """One worker stopped (SIGSTOP) past its lease, then continued."""
    slot = stack.next_slot()
    worker = stack.workers[slot]
    step.target = worker.worker_id
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(0.2)
        stopped = _state(worker.pid)
        await asyncio.sleep(max(hold_s, stack.lease_s * 2 + 1) - 0.2)
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    step.evidence = {"state_while_stopped": stopped}
    step.happened = stopped == "T"


async def kill9(stack: "Stack", step: FaultStep, hold_s: float) -> None:
    """One worker killed (SIGKILL) mid-work, the busiest by its heartbeat; a new one takes its
    place."""
    running_by_slot = [
        int((await stack.heartbeat(w.worker_id)).get("running", 0)) for w in stack.workers
    ]
    slot = max(range(len(running_by_slot)), key=running_by_slot.__getitem__)
    worker = stack.workers[slot]
    step.target = worker.worker_id
    running = running_by_slot[slot]
    os.kill(worker.pid, signal.SIGKILL)
    code = await asyncio.to_thread(worker.process.wait, 10)
    await asyncio.sleep(hold_s / 2)
    await stack.respawn(slot)
    step.evidence = {"exit_code": code, "running_at_kill": running}
    step.happened = code == -signal.SIGKILL


async def valkey_restart(stack: "Stack", step: FaultStep, hold_s: float) -> None:
    """Valkey stops (SIGTERM, append-only file on) and starts again on the same port."""
    step.target = "valkey"
    run_id = await stack.run_id()
    code = await stack.server.stop()
    await asyncio.sleep(min(hold_s, 2.0))
    await stack.server.start()
    step.evidence = {"exit_code": code, "run_id_changed": run_id != await stack.run_id()}
    step.happened = code == 0 and bool(step.evidence["run_id_changed"])


async def clock_skew(stack: "Stack", step: FaultStep, hold_s: float) -> None:
    """A worker whose wall clock is 10 minutes off joins (and stays till the end)."""
    skew = CLOCK_SKEW_S if stack.skews % 2 == 0 else -CLOCK_SKEW_S
    worker, log = await stack.start_skewed(skew)
    step.target = f"{worker.worker_id} ({skew:+d} s)"
    await asyncio.sleep(hold_s)
    # Its own log's timestamps show its clock.
    first = orjson.loads(log.read_bytes().splitlines()[0])
    stamp = time.strptime(first["ts"].split(".")[0], "%Y-%m-%dT%H:%M:%S")
    off_s = time.mktime(stamp) - time.timezone - time.time()
    step.evidence = {"skew_s": skew, "log_clock_off_s": round(off_s)}
    step.happened = abs(off_s - skew) < hold_s + 30
    # Nothing may change: every live worker, the skewed one too, is in the registry.
    live = await heartbeat.live_workers(stack.redis)
    alive = [w.worker_id for w in [*stack.workers, worker] if w.process.poll() is None]
    step.broken = [f"live worker {w} missing from the registry" for w in alive if w not in live]


async def memory_full(stack: "Stack", step: FaultStep, hold_s: float) -> None:
    """`maxmemory` below what Valkey holds (noeviction): every write refused, then restored."""
    step.target = "valkey"
    redis = stack.redis
    await redis.config_set("maxmemory-policy", "noeviction")
    used = int((await redis.info("memory"))["used_memory"])
    await redis.config_set("maxmemory", str(used // 2))
    refused_before = stack.refused_oom()
    try:
        refused = False
        try:
            await redis.set("chaos:probe", "x")
        except OutOfMemoryError:
            refused = True
        await asyncio.sleep(hold_s)
    finally:
        await redis.config_set("maxmemory", "0")
    step.evidence = {
        "probe_refused": refused,
        "enqueues_refused": stack.refused_oom() - refused_before,
    }
    step.happened = refused


Fault = Callable[["Stack", FaultStep, float], Awaitable[None]]

FAULTS: dict[str, Fault] = {
    "partition": partition,
    "web_partition": web_partition,
    "latency": latency,
    "flapping": flapping,
    "sigstop": sigstop,
    "kill9": kill9,
    "valkey_restart": valkey_restart,
    "clock_skew": clock_skew,
    "memory_full": memory_full,
}
"""In the order the schedule runs them (and again, for runs long enough)."""
