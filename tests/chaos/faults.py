"""The faults, each a step of the schedule on the real processes of a `Stack`.

A step injects its fault, holds it, heals it, and writes down what proves that it happened
(`FaultStep.evidence`, `happened`): a run whose faults did not bite proves nothing.
"""

import asyncio
import os
import resource
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import orjson
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from jobs.worker import heartbeat
from tests.chaos.history import Ack, FaultStep, ms_of

if TYPE_CHECKING:
    from tests.chaos.stack import Stack

CLOCK_SKEW_S = 600
"""How far off the skewed worker's wall clock is (ahead, then behind on the next step)."""
STARVED_SHARE = 0.1
"""The CPU share a starved worker gets: stopped 90 % of every lease-long period."""
STREAMS = 1000
"""Event streams and long polls opened at once on the web process (half each)."""
CAP = 200
"""The web process's `MAX_STREAMS_PER_PROCESS` (its default)."""


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


async def starved(stack: "Stack", step: FaultStep, hold_s: float) -> None:
    """One worker starved of CPU: stopped (SIGSTOP) 90 % of every period of `LEASE_S` and let
    run 10 % (SIGCONT), as a CPU quota or a noisy neighbour would: its heartbeats and lease
    renewals late, some past the lease."""
    slot = stack.next_slot()
    worker = stack.workers[slot]
    step.target = worker.worker_id
    period = stack.lease_s
    cycles, late_ms = 0, 0
    deadline = time.monotonic() + max(hold_s, period * 2)
    try:
        while time.monotonic() < deadline:
            os.kill(worker.pid, signal.SIGSTOP)
            await asyncio.sleep(period * (1 - STARVED_SHARE))
            beat = await stack.heartbeat_ms(worker.worker_id)
            if beat is not None:  # how old its last heartbeat is when it gets the CPU back
                late_ms = max(late_ms, await stack.now_ms() - beat)
            os.kill(worker.pid, signal.SIGCONT)
            await asyncio.sleep(period * STARVED_SHARE)
            cycles += 1
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    step.evidence = {"cycles": cycles, "cpu_share": STARVED_SHARE, "heartbeat_age_max_ms": late_ms}
    # Its heartbeat (every HEARTBEAT_S, 1 s) was seen late by more than an interval.
    step.happened = cycles > 0 and late_ms > 1500


async def memory_pressure(stack: "Stack", step: FaultStep, hold_s: float) -> None:
    """One worker may map no more memory than it has (`RLIMIT_AS` set to its present size, as a
    container's memory limit reached): whatever it allocates anew fails (`MemoryError`), until
    the limit is lifted; a worker that died of it is replaced."""
    slot = stack.next_slot()
    worker = stack.workers[slot]
    step.target = worker.worker_id
    log = stack.processes.log_of(worker)
    errors_before = _memory_errors(log)
    size = _vm_size(worker.pid)
    _, hard = resource.prlimit(worker.pid, resource.RLIMIT_AS)
    resource.prlimit(worker.pid, resource.RLIMIT_AS, (size, hard))
    try:
        await asyncio.sleep(max(hold_s, stack.lease_s * 2 + 1))
    finally:
        if worker.process.poll() is None:
            resource.prlimit(worker.pid, resource.RLIMIT_AS, (hard, hard))
    died = worker.process.poll() is not None
    errors = _memory_errors(log) - errors_before
    if died:
        await stack.respawn(slot)
    step.evidence = {"limit_mb": size >> 20, "memory_errors": errors, "died": died}
    step.happened = died or errors > 0


def _memory_errors(log: Path) -> int:
    """Allocations refused, as the worker's log tells them (Python's, or a mapping's ENOMEM)."""
    text = log.read_bytes()
    return text.count(b"MemoryError") + text.count(b"Cannot allocate memory")


def _vm_size(pid: int) -> int:
    """A process's mapped memory in bytes (`VmSize`)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise LookupError(f"no VmSize for {pid}")


async def streams(stack: "Stack", step: FaultStep, hold_s: float) -> None:
    """`STREAMS` event streams and long polls at once on the web process, past its cap
    (`MAX_STREAMS_PER_PROCESS`, 200): those past it get 503 `too_many_streams`; health checks
    and enqueues still answer meanwhile."""
    step.target = "web"
    limits = httpx.Limits(max_connections=STREAMS + 10, max_keepalive_connections=0)
    timeout = httpx.Timeout(hold_s + 30, connect=30)
    answers: Counter[str] = Counter()
    held = 0
    async with httpx.AsyncClient(base_url=stack.url, timeout=timeout, limits=limits) as client:
        # A job that stays deferred for the whole step: its stream and its long polls wait.
        params = {"defer_by": hold_s + 2}
        created = await client.post("/jobs/chaos_work", params=params, json={"n": 0})
        view = created.json()
        stack.history.acks.append(Ack(view["id"], "work", ms_of(view["enqueued_at"]) or 0))
        job = view["id"]
        release = asyncio.Event()

        async def stream() -> None:
            nonlocal held
            async with client.stream("GET", f"/jobs/{job}/events") as response:
                if response.status_code == 200:
                    held += 1
                    await release.wait()
                else:
                    await response.aread()
                    answers[_answer(response)] += 1

        async def long_poll() -> None:
            response = await client.get(f"/jobs/{job}", params={"wait": hold_s})
            answers[_answer(response)] += 1

        deadline = time.monotonic() + hold_s
        openers = [
            asyncio.ensure_future(stream() if i % 2 else long_poll()) for i in range(STREAMS)
        ]
        try:
            flood = time.monotonic()
            # Until every one past the cap is refused: those left open hold the slots.
            for _ in range(int(hold_s * 10)):
                if sum(1 for o in openers if not o.done()) <= CAP:
                    break
                await asyncio.sleep(0.1)
            flood_s = round(time.monotonic() - flood, 1)
            probes: dict[str, float | int | str] = {}
            async with httpx.AsyncClient(base_url=stack.url, timeout=5) as probe:
                for name, call in (
                    ("health", probe.get("/health")),
                    ("enqueue", probe.post("/jobs/chaos_work", json={"n": 0, "sleep_s": 0})),
                ):
                    began = time.monotonic()
                    try:
                        answer = await call
                    except httpx.HTTPError as exc:
                        probes[name] = type(exc).__name__
                        continue
                    probes[name] = answer.status_code
                    probes[f"{name}_ms"] = round((time.monotonic() - began) * 1000)
                    if name == "enqueue" and answer.status_code == 202:
                        view = answer.json()
                        at = ms_of(view["enqueued_at"]) or 0
                        stack.history.acks.append(Ack(view["id"], "work", at))
            opened_while_held = held
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        finally:
            release.set()
            outcomes = await asyncio.gather(*openers, return_exceptions=True)
    errors = Counter(type(o).__name__ for o in outcomes if isinstance(o, BaseException))
    refused = answers.get("503 too_many_streams", 0)
    step.evidence = {
        "opened": STREAMS,
        "streams_held": opened_while_held,
        "flood_s": flood_s,
        "answers": dict(answers),
        "errors": dict(errors),
        **probes,
    }
    step.happened = refused > 0 and opened_while_held > 0
    wanted = {"health": 200, "enqueue": 202}
    step.broken = [f"{k} answered {probes[k]}" for k, v in wanted.items() if probes[k] != v]
    # A JSON 503 of another code is a refusal too (`redis_unavailable`: on a loaded machine the
    # web's new Redis connection can time out under the flood); anything else is broken.
    ok = ("200", "503 too_many_streams", "503 redis_unavailable")
    step.broken += [f"answered {a}" for a in answers if a not in ok]
    step.broken += [f"{n} connections failed: {e}" for e, n in errors.items()]


def _answer(response: httpx.Response) -> str:
    try:
        code = response.json()["error"]["code"] if response.status_code != 200 else ""
    except (ValueError, KeyError, TypeError):
        code = "not JSON"
    return f"{response.status_code} {code}".strip()


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
    "starved": starved,
    "memory_pressure": memory_pressure,
    "streams": streams,
}
"""In the order the schedule runs them (and again, for runs long enough)."""
