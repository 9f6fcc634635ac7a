"""What the flow-control gates hold right now, read for `/limits`, `/metrics`, `/queues` and
the dashboard. Read-only: `jobs/layout/lua/includes/flow.lua` writes these keys
(`jobs.layout.keys.QueueKeys`).

Per queue, every gate named in its `gates` set (up to `MAX_GATES`; a per-customer key can make
many) is read in one pipelined round trip, plus one for the gates' specs: a concurrency gate's
slots in use (only those whose lease end is still ahead: a dead worker's slot ages out with
its lease), its limit, the jobs it holds back and its timer; a rate gate's held jobs and its
next admission (GCRA: `TAT - (burst - 1) * T`). Times are the server's (`TIME`), like the
scores the scripts write.

A gate's limits travel with its jobs (the `flow` hash), so they are read from one of its jobs;
the catalog fills in when none has an entry (and names the job type of a gate).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from jobs.flow.limits import FlowControl
from jobs.layout import keys
from jobs.layout.connection import RedisClient, server_ms
from jobs.layout.records import GateKind, held_job_id, split_gate

MAX_GATES = 1000
"""Gates read per queue; with more (many keys), a sample of this many (`QueueGates.gates` <
`QueueGates.total`)."""


@dataclass(frozen=True, slots=True)
class GateState:
    """One gate as it is now."""

    queue: str
    gate: str
    """`c:{job}[:{key value}]` or `r:{job}[:{key value}]`."""
    kind: GateKind
    job: str
    key: str | None
    """The `concurrency_key` / `rate_key` field's value, if the limit is per key."""
    held: int
    """Jobs held back at this gate (status `queued`, `waiting_for` its kind)."""
    running: int | None = None
    """Concurrency: slots in use (running tries and reservations for released jobs)."""
    limit: int | None = None
    """Concurrency: at most this many at once."""
    interval_us: int | None = None
    """Rate: T, the spacing of admissions at the sustained rate."""
    burst: int | None = None
    next_timer_ms: int | None = None
    """When the scripts look at this gate again (a rate admission, or a full gate's earliest
    lease end), server ms."""
    next_admission_ms: int | None = None
    """Rate: the earliest time the next job may be admitted (server ms; now if it may now)."""


@dataclass(frozen=True, slots=True)
class QueueGates:
    queue: str
    gates: list[GateState]
    total: int
    """Gates in the queue's `gates` set (more than `len(gates)` when sampled)."""
    now_ms: int
    """The server's time when they were read (the clock of every time above)."""

    @property
    def held(self) -> int:
        return sum(g.held for g in self.gates)


async def held_jobs(
    redis: RedisClient, queues: list[str], *, max_gates: int = MAX_GATES
) -> dict[str, int]:
    """Per queue: the jobs its gates hold back (status `queued`, in no ready or due set), in
    two round trips."""
    async with redis.pipeline(transaction=False) as pipe:
        for name in queues:
            pipe.srandmember(keys.queue(name).gates, max_gates)
        listed = await pipe.execute()
    async with redis.pipeline(transaction=False) as pipe:
        for name, gates in zip(queues, listed, strict=True):
            for gate in gates or []:
                pipe.zcard(keys.queue(name).held(_text(gate)))
        counts = iter(await pipe.execute())
    return {
        name: sum(int(next(counts)) for _ in gates or [])
        for name, gates in zip(queues, listed, strict=True)
    }


async def read_gates(
    redis: RedisClient,
    queues: Iterable[str],
    flows: Mapping[str, FlowControl] | None = None,
    *,
    max_gates: int = MAX_GATES,
) -> list[QueueGates]:
    """The gates of each queue that has any. `flows`: job name -> its declared limits."""
    flows = flows or {}
    names = [q for q in queues if keys.QUEUE_NAME.fullmatch(q)]
    if not names:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            q = keys.queue(name)
            pipe.scard(q.gates)
            pipe.srandmember(q.gates, max_gates)
        listed = await pipe.execute()
    found = [
        (name, int(listed[2 * i]), sorted(_text(g) for g in listed[2 * i + 1] or []))
        for i, name in enumerate(names)
        if listed[2 * i]
    ]
    if not found:
        return []
    now_ms = await server_ms(redis)
    raw = await _read_raw(redis, found, now_ms)
    specs = await _read_specs(redis, raw)
    out = []
    for name, total, gates in found:
        states = [
            state
            for gate in gates
            if (state := _state(name, gate, raw[(name, gate)], specs, flows, now_ms)) is not None
        ]
        out.append(QueueGates(name, states, total, now_ms))
    return out


async def _read_raw(
    redis: RedisClient, found: list[tuple[str, int, list[str]]], now_ms: int
) -> dict[tuple[str, str], dict[str, Any]]:
    async with redis.pipeline(transaction=False) as pipe:
        for name, _, gates in found:
            q = keys.queue(name)
            for gate in gates:
                pipe.zcard(q.held(gate))
                pipe.zrange(q.held(gate), 0, 0)
                pipe.zscore(q.timers, gate)
                if gate.startswith("c:"):
                    pipe.zcount(q.running(gate), f"({now_ms}", "+inf")
                    pipe.zrange(q.running(gate), 0, 0)
                else:
                    pipe.get(q.rate_tat(gate))
        replies = iter(await pipe.execute())
    raw: dict[tuple[str, str], dict[str, Any]] = {}
    for name, _, gates in found:
        for gate in gates:
            held, head, timer = next(replies), next(replies), next(replies)
            entry: dict[str, Any] = {"held": int(held), "timer": timer, "ids": []}
            if head:
                entry["ids"].append(held_job_id(head[0]))
            if gate.startswith("c:"):
                entry["running"] = int(next(replies))
                entry["ids"][:0] = [_text(m) for m in next(replies)]
            else:
                tat = next(replies)
                entry["tat_us"] = int(tat) if tat is not None else None
            raw[(name, gate)] = entry
    return raw


async def _read_specs(
    redis: RedisClient, raw: dict[tuple[str, str], dict[str, Any]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Each gate's limits, from the `flow` entry of one of its jobs."""
    asked = [(where, entry["ids"][0]) for where, entry in raw.items() if entry["ids"]]
    if not asked:
        return {}
    async with redis.pipeline(transaction=False) as pipe:
        for (name, _), job_id in asked:
            pipe.hget(keys.queue(name).flow, job_id)
        replies = await pipe.execute()
    specs = {}
    for (where, _), reply in zip(asked, replies, strict=True):
        try:
            spec = orjson.loads(reply) if reply else None
        except orjson.JSONDecodeError:
            spec = None
        if isinstance(spec, dict):
            specs[where] = spec
    return specs


def _state(
    queue: str,
    gate: str,
    entry: dict[str, Any],
    specs: dict[tuple[str, str], dict[str, Any]],
    flows: Mapping[str, FlowControl],
    now_ms: int,
) -> GateState | None:
    parts = split_gate(gate, flows)
    if parts is None:
        return None
    kind, job, key = parts
    spec = specs.get((queue, gate), {})
    declared = flows.get(job)
    timer = int(float(entry["timer"])) if entry["timer"] is not None else None
    if kind == "concurrency":
        if not entry["held"] and not entry["running"]:
            return None  # nothing there: the scripts drop it from `gates` at their next look
        limit = _int(spec.get("n")) or (declared.concurrency if declared else None)
        return GateState(
            queue=queue,
            gate=gate,
            kind=kind,
            job=job,
            key=key,
            held=entry["held"],
            running=entry["running"],
            limit=limit,
            next_timer_ms=timer,
        )
    interval = _int(spec.get("t"))
    burst = _int(spec.get("b"))
    if declared and declared.rate:
        interval = interval or declared.rate.interval_us
        burst = burst or declared.rate_burst
    admission = None
    if entry["tat_us"] is not None and interval and burst:
        admission = max(now_ms, (entry["tat_us"] - (burst - 1) * interval) // 1000)
    elif entry["tat_us"] is None:
        admission = now_ms  # no TAT left: the gate admits now
    if not entry["held"] and (admission is None or admission <= now_ms):
        return None
    return GateState(
        queue=queue,
        gate=gate,
        kind=kind,
        job=job,
        key=key,
        held=entry["held"],
        interval_us=interval,
        burst=burst,
        next_timer_ms=timer,
        next_admission_ms=admission,
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
