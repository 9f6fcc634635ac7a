"""One chaos run: start the stack, produce for `seconds` while the schedule runs its faults, let
everything drain, read the history, check it, and report.

The schedule gives each fault an equal slot, in the order of `faults.FAULTS`, again and again
while the run lasts: inject, hold, heal, then quiet for the rest of the slot (so the effects of
one fault are charged to it, not to the next).
"""

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.chaos.checker import Violation, charged_to, check
from tests.chaos.faults import FAULTS
from tests.chaos.history import FaultStep, Final, History, LeaseLost, Try, ms_of
from tests.chaos.producers import Producers
from tests.chaos.stack import Stack
from tests.support.job_events import job_events
from tests.support.jobs.chaos_jobs import HISTORY, RATE_INTERVAL_US
from tests.support.jobs_api import JobsApi

MIN_SLOT_S = 7.0
MAX_SLOT_S = 12.0
"""A fault's slot: long enough for a step past the lease and its effects (a lease or two),
short enough that a long run repeats every fault many times."""
DRAIN_S = 90.0
JOB_NAMES = ("chaos_work", "chaos_serial", "chaos_rated", "chaos_callback")


@dataclass
class Outcome:
    seconds: float
    history: History
    violations: list[Violation]
    figures: dict[str, Any] = field(default_factory=dict)
    scheduled: list[str] = field(default_factory=lambda: list(FAULTS))

    @property
    def faults_missing(self) -> list[str]:
        """Fault steps that did not visibly happen, and faults never scheduled."""
        ran = {s.name for s in self.history.faults}
        missing = [f"{s.name} on {s.target}" for s in self.history.faults if not s.happened]
        return missing + [f"{name} (never run)" for name in self.scheduled if name not in ran]


async def run(seconds: float, directory: Path, faults: list[str] | None = None) -> Outcome:
    """`faults`: the schedule's faults, in order (default: all of `FAULTS`)."""
    names = faults or list(FAULTS)
    history = History(lease_ms=0, rate_interval_us=RATE_INTERVAL_US)
    stack = Stack(directory, history)
    history.lease_ms = stack.lease_s * 1000
    try:
        await stack.start()
        async with job_events(stack.redis) as events:
            producers = Producers(stack.url, history, stack.now_ms)
            producing = asyncio.ensure_future(producers.run())
            try:
                await _schedule(stack, seconds, names)
            finally:
                producers.stop()
                await producing
                await producers.aclose()
            await stack.heal()
            async with JobsApi(stack.url) as api:
                await _drain(api, history)
                await _read(api, stack, history)
            history.finished_events = dict(events.finished)
        return _outcome(seconds, history, names)
    finally:
        await stack.close()


async def _schedule(stack: Stack, seconds: float, names: list[str]) -> None:
    slot_s = min(max(MIN_SLOT_S, seconds / len(names)), MAX_SLOT_S)
    began = time.monotonic()
    for index in range(max(len(names), int(seconds // slot_s))):
        name = names[index % len(names)]
        slot_ends = began + (index + 1) * slot_s
        step = FaultStep(name, "", await stack.now_ms())
        stack.history.faults.append(step)
        await FAULTS[name](stack, step, slot_s * 0.6)
        step.end_ms = await stack.now_ms()
        print(f"  fault {name:<15} on {step.target}: {step.evidence}", flush=True)
        await asyncio.sleep(max(0.0, slot_ends - time.monotonic()))


async def _views(api: JobsApi) -> dict[str, dict[str, Any]]:
    views: dict[str, dict[str, Any]] = {}
    for name in JOB_NAMES:
        views.update(await api.listed(name))
    return views


async def _drain(api: JobsApi, history: History) -> None:
    """Until every acknowledged job and every listed one is final (or the deadline)."""
    deadline = time.monotonic() + DRAIN_S
    final = {"complete", "failed", "aborted"}
    while time.monotonic() < deadline:
        views = await _views(api)
        acked = all(a.job in views and views[a.job]["status"] in final for a in history.acks)
        if acked and all(v["status"] in final for v in views.values()):
            return
        await asyncio.sleep(0.5)


async def _read(api: JobsApi, stack: Stack, history: History) -> None:
    history.listed = await _views(api)
    for ack in history.acks:
        view = history.listed.get(ack.job)
        if view is None:
            response = await api.get(ack.job)
            view = response.json() if response.status_code == 200 else None
        if view is None:
            history.finals[ack.job] = Final(ack.job, "missing")
            continue
        history.finals[ack.job] = Final(
            ack.job,
            view["status"],
            view["tries"],
            view.get("result"),
            ms_of(view.get("finished_at")),
            view["name"],
        )
    history.tries = await _tries(stack)
    for log in sorted(stack.directory.glob("worker-*.log")):
        for line in log.read_bytes().splitlines():
            with contextlib.suppress(ValueError):
                entry = orjson.loads(line)
                if str(entry.get("msg", "")).startswith("lease lost"):
                    history.lease_lost.append(
                        LeaseLost(log.name, str(entry.get("job_id", "")), entry["msg"][:60])
                    )


async def _tries(stack: Stack) -> list[Try]:
    tries: dict[tuple[str, str, str], Try] = {}
    entries = await stack.history_redis.xrange(HISTORY)
    for entry_id, raw in entries:
        row = {k.decode(): v.decode() for k, v in raw.items()}
        at = int(entry_id.decode().split("-")[0])
        ident = (row["job"], row["try"], row["token"])
        if row["ev"] == "start":
            admitted = row.get("admitted", "")
            tries[ident] = Try(
                job=row["job"],
                name=row["name"],
                try_=int(row["try"]),
                token=row["token"],
                start_ms=at,
                group=row.get("group", ""),
                seq=int(row.get("seq", 0)),
                admitted_us=int(admitted) if admitted else None,
                parents=row.get("parents", ""),
                batch=row.get("batch", ""),
                total=int(row.get("total", 0)),
                final=int(row.get("final", 0)),
            )
        elif ident in tries:
            tries[ident].end_ms = at
    return list(tries.values())


def _outcome(seconds: float, history: History, names: list[str]) -> Outcome:
    violations = check(history)
    refusals = Counter(f"{r.status} {r.code}" for r in history.refusals)
    figures = {
        "seconds": seconds,
        "jobs_acknowledged": len(history.acks),
        "by_kind": dict(Counter(a.kind for a in history.acks)),
        "tries": len(history.tries),
        "faults": len(history.faults),
        "refusals": dict(refusals),
        "lease_lost_lines": len(history.lease_lost),
        "violations": len(violations),
    }
    return Outcome(seconds, history, violations, figures, names)


def report(outcome: Outcome) -> str:
    """The violations with their history slices, then the table per fault."""
    h = outcome.history
    lines = []
    for v in outcome.violations:
        lines.append(f"VIOLATION [{v.check}] ({charged_to(h, v)}) {v.detail}")
        lines += ["    " + row for row in h.slice(v.jobs, v.at_ms)]
    per_fault: Counter[str] = Counter(charged_to(h, v) for v in outcome.violations)
    lines.append("")
    lines.append(f"{'fault':<16}{'steps':>6}{'happened':>10}{'tries during':>14}{'violations':>12}")
    for name in [*dict.fromkeys(outcome.scheduled), "none"]:
        steps = [s for s in h.faults if s.name == name]
        during = sum(1 for t in h.tries for s in steps if s.start_ms <= t.claim_ms <= s.end_ms)
        happened = sum(1 for s in steps if s.happened)
        lines.append(
            f"{name:<16}{len(steps):>6}{happened:>10}{during:>14}{per_fault.get(name, 0):>12}"
        )
    lines.append("")
    lines.append("  ".join(f"{k}={v}" for k, v in outcome.figures.items()))
    if outcome.faults_missing:
        lines.append(f"FAULTS THAT DID NOT HAPPEN: {outcome.faults_missing}")
    return "\n".join(lines)
