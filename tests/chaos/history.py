"""What a chaos run recorded: every operation with the server's time (ms since the epoch).

- `Ack`: an enqueue the API acknowledged (202/200), with the JobView's `enqueued_at`.
- `Refusal`: an enqueue the API refused (its status and error code) or that got no answer.
- `Try`: a try's start and end, written by the job itself (`tests/support/jobs/chaos_jobs.py`)
  to the history stream: its lease token holds the worker and the server ms of the claim.
- `Final`: the job as `GET /jobs/{id}` shows it once the run has drained.
- `LeaseLost`: a worker's JSON log line saying a settle (or a renewal) was refused.
- `FaultStep`: a fault the schedule ran, when (server clock), and what proves it happened.

Every time here is a server's clock: Redis `TIME` (claims, `enqueued_at`, `finished_at`) and
the history Valkey's stream ids, both read from the same host clock (the servers share a
machine); never a worker's clock.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobs.layout.records import LeaseToken


def ms_of(stamp: str | None) -> int | None:
    """Server ms of a JobView time (RFC 3339)."""
    if not stamp:
        return None
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


@dataclass(slots=True)
class Ack:
    job: str
    kind: str
    """"work", "serial", "rated", "node", "member" or "callback"."""
    at_ms: int
    group: str = ""
    seq: int = 0
    parents: list[str] = field(default_factory=list)
    """A workflow node's parents' job ids; a batch callback's members."""
    n: int = 0


@dataclass(slots=True)
class Refusal:
    kind: str
    at_ms: int
    status: int
    """0: no answer (a transport error): the enqueue may or may not have been written."""
    code: str
    n: int = 0
    body: str = ""


@dataclass(slots=True)
class Try:
    job: str
    name: str
    try_: int
    token: str
    start_ms: int
    end_ms: int | None = None
    group: str = ""
    seq: int = 0
    admitted_us: int | None = None
    parents: str = ""
    batch: str = ""
    total: int = 0
    final: int = 0

    @property
    def claim_ms(self) -> int:
        parsed = LeaseToken.parse(self.token)
        return parsed.started_ms if parsed else self.start_ms

    @property
    def worker(self) -> str:
        parsed = LeaseToken.parse(self.token)
        return parsed.worker if parsed else "?"


@dataclass(slots=True)
class Final:
    job: str
    status: str
    """"missing" when `GET /jobs/{id}` answers 404."""
    tries: int = 0
    result: dict[str, Any] | None = None
    finished_ms: int | None = None
    name: str = ""


@dataclass(slots=True)
class LeaseLost:
    worker_log: str
    job: str
    line: str


@dataclass(slots=True)
class FaultStep:
    name: str
    target: str
    start_ms: int
    end_ms: int = 0
    evidence: dict[str, Any] = field(default_factory=dict)
    happened: bool = False
    broken: list[str] = field(default_factory=list)
    """What the step saw go wrong besides the history (e.g. a live worker missing from the
    registry): each one a violation."""


@dataclass
class History:
    lease_ms: int
    rate_interval_us: int
    acks: list[Ack] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    tries: list[Try] = field(default_factory=list)
    finals: dict[str, Final] = field(default_factory=dict)
    lease_lost: list[LeaseLost] = field(default_factory=list)
    faults: list[FaultStep] = field(default_factory=list)
    finished_events: dict[str, int] = field(default_factory=dict)
    """`finished` messages per job id seen on `jobsvc:events` (blind while Valkey restarts)."""
    listed: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Every job `GET /jobs` lists at the end, acknowledged or not: id -> JobView."""

    def tries_of(self, job: str) -> list[Try]:
        return sorted((t for t in self.tries if t.job == job), key=lambda t: t.claim_ms)

    def slice(self, jobs: set[str], around_ms: int | None = None) -> list[str]:
        """Every recorded operation on `jobs`, in server time: what a violation report shows."""
        rows: list[tuple[int, str]] = []
        for a in self.acks:
            if a.job in jobs:
                rows.append((a.at_ms, f"ack       {a.job} {a.kind} group={a.group} seq={a.seq}"))
        for t in self.tries:
            if t.job in jobs:
                rows.append(
                    (
                        t.claim_ms,
                        f"claim     {t.job} try={t.try_} worker={t.worker} token={t.token}",
                    )
                )
                rows.append((t.start_ms, f"start     {t.job} try={t.try_} group={t.group}"))
                if t.end_ms is not None:
                    rows.append((t.end_ms, f"end       {t.job} try={t.try_}"))
        for f in self.finals.values():
            if f.job in jobs:
                rows.append(
                    (
                        f.finished_ms or 0,
                        f"final     {f.job} {f.status} tries={f.tries} result={f.result}",
                    )
                )
        for lost in self.lease_lost:
            if lost.job in jobs:
                rows.append((0, f"log       {lost.worker_log}: {lost.line}"))
        if around_ms is not None:
            for step in self.faults:
                if step.start_ms - 10_000 <= around_ms <= step.end_ms + 10_000:
                    rows.append((step.start_ms, f"fault     {step.name} on {step.target} begins"))
                    rows.append((step.end_ms, f"fault     {step.name} on {step.target} ends"))
        return [f"{at:>14} {text}" for at, text in sorted(rows)]
