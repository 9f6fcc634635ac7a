"""The values stored in Redis, one codec each: job definitions, lease tokens, event messages.

Keys live in `jobs.layout.keys`; what is written under them is spelled here and nowhere else, so a
reader never splits a string a writer joined somewhere else. Decoding is total: bytes we did
not write (stock ARQ's pickle, a truncated value, another program's JSON) come back as a
`Poison` that says what is wrong, never as an exception out of a worker's claim loop or a 500.
"""

from dataclasses import dataclass, field
from typing import Any

import orjson

from jobs.layout.serialization import serialize


@dataclass(frozen=True, slots=True)
class Poison:
    """Why a stored value cannot be used: an error record in the JobView's shape."""

    type: str
    message: str

    def error(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "retryable": False}


def open_json(fields: dict[str, Any]) -> bytes:
    """A JSON object without its closing brace: the Lua script that stores it appends the
    server's time (`,"et":123}` or `,"ft":123}`), so every stored time is the server's."""
    return serialize(fields)[:-1]


@dataclass(slots=True)
class JobDefinition:
    """A job's definition: ARQ's layout (`t f a k et`; stock ARQ producers write it too) plus
    our `q` (queue) and `p` (priority, when not 0).

    `et` (enqueued at) is the server's clock, appended by `enqueue.lua` (see `open_json`).
    Not frozen, though nothing changes one: a worker decodes one per job, and a frozen
    dataclass's `__init__` (`object.__setattr__` per field) costs 1.1 µs against 0.3.
    """

    function: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    enqueued_ms: int = 0
    queue: str | None = None
    """None for jobs a stock ARQ producer enqueued: they are on the default queue."""
    priority: int = 0
    expires_ms: int | None = None
    """`x`: not started by then (server ms), it never starts (`Expired`); written by
    `enqueue.lua` from the server's clock, like `et`."""
    has_parents: bool = False
    """`d`: it waited for parents (`jobs.graph.dependencies`): the worker reads their outcomes."""

    def dump_open(self) -> bytes:
        """Everything but `et`, for `enqueue.lua` to close with the server's time."""
        data: dict[str, Any] = {"t": None, "f": self.function, "a": self.args, "k": self.kwargs}
        if self.queue is not None:
            data["q"] = self.queue
        if self.priority:
            data["p"] = self.priority
        if self.has_parents:
            data["d"] = 1
        return open_json(data)

    @classmethod
    def load(cls, raw: bytes | str) -> "JobDefinition | Poison":
        try:
            d = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            hint = " (pickled by a stock ARQ producer?)" if _pickled(raw) else ""
            return Poison("UndecodableJob", f"job definition is not JSON{hint}: {exc}")
        if not isinstance(d, dict):
            return Poison("UndecodableJob", f"job definition is a JSON {type(d).__name__}")
        function, args, kwargs = d.get("f"), d.get("a", []), d.get("k", {})
        queue, enqueued, priority = d.get("q"), d.get("et") or 0, d.get("p") or 0
        expires = d.get("x")
        if not isinstance(function, str) or not function:
            return Poison("UndecodableJob", "job definition names no function ('f')")
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            return Poison("UndecodableJob", "job arguments are not a list ('a') and dict ('k')")
        if not isinstance(enqueued, int | float) or not isinstance(priority, int):
            return Poison("UndecodableJob", "job definition has a malformed 'et' or 'p'")
        if not (queue is None or isinstance(queue, str)):
            return Poison("UndecodableJob", "job definition has a malformed 'q'")
        if not (expires is None or isinstance(expires, int)):
            return Poison("UndecodableJob", "job definition has a malformed 'x'")
        parents = d.get("d") == 1
        return cls(function, args, kwargs, int(enqueued), queue, priority, expires, parents)

    @property
    def payload(self) -> Any:
        """The input as enqueued: our `(payload,)`, or stock ARQ's keyword arguments."""
        return self.args[0] if self.args else (self.kwargs or None)


def _pickled(raw: bytes | str) -> bool:
    return isinstance(raw, bytes) and raw[:1] == b"\x80"


def encode_gates(gates: dict[str, Any], unique_lock: str | None) -> bytes:
    """A job's entry in its queue's `flow` hash, read by the scripts (`lua/includes/flow.lua`):
    `c`/`n` its concurrency gate and limit, `r`/`t`/`b` its rate gate, interval (µs) and
    burst, `u` its unique lock. Empty for a job with none of them."""
    spec = dict(gates)
    if unique_lock is not None:
        spec["u"] = unique_lock
    return orjson.dumps(spec) if spec else b""


@dataclass(frozen=True, slots=True)
class WaitingAt:
    """`wait` in a held job's state hash (written by `flow.lua`): which gate holds it."""

    on: str
    """"concurrency" or "rate_limit"."""
    until_ms: int | None
    """When a rate limit lets it (or the one held before it) go; None for concurrency."""

    @classmethod
    def parse(cls, raw: bytes | str) -> "WaitingAt | None":
        try:
            d = orjson.loads(raw)
            until = d.get("until")
            return cls(str(d["on"]), int(until) if until is not None else None)
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class LeaseToken:
    """`lease:{id}` (`QueueKeys.lease`): who holds a running try, since when, from which claim
    call.

    Written by `claim.lua` as `{worker}|{server ms}|{claim id}`; every settle and renewal must
    present it. The claim id makes tokens unique per claim call, so a claim whose reply was
    lost can be recognised and picked up again (see `claim.lua`).
    """

    worker: str
    started_ms: int
    claim_id: str

    def encode(self) -> str:
        return f"{self.worker}|{self.started_ms}|{self.claim_id}"

    @classmethod
    def parse(cls, raw: bytes | str) -> "LeaseToken | None":
        """None for a lease we did not write (stock ARQ's `b'1'`)."""
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        worker, _, rest = text.partition("|")
        started, _, claim_id = rest.partition("|")
        if not worker or not started.isdigit():
            return None
        return cls(worker, int(started), claim_id)


@dataclass(frozen=True, slots=True)
class Event:
    """A message on `jobsvc:events`: `{kind} {id} {id} ...`, published by the Lua scripts.

    Kinds: `started` (claimed), `progress`, `requeued` (retry or shutdown), `finished` (final).
    """

    kind: str
    job_ids: list[str]

    def encode(self) -> str:
        return " ".join([self.kind, *self.job_ids])

    @classmethod
    def parse(cls, raw: bytes | str) -> "Event":
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        kind, *job_ids = text.split() or [""]
        return cls(kind, job_ids)


@dataclass(frozen=True, slots=True)
class WorkflowRecord:
    """A workflow or batch (`jobs.graph.workflows`, `jobs.graph.batches`), kept beside its first
    queue's keys: `{"k": kind, "n": {node key: job id}, "a": {node key: [node keys]}, "t": created
    ms (the server's clock), "g": commit gate id or null, "c": {callback: node key}, "d": the
    done job's id or null}`."""

    kind: str
    """"workflow" or "batch"."""
    nodes: dict[str, str]
    after: dict[str, list[str]]
    created_ms: int
    gate: str | None = None
    """The commit gate's job id (Redis Cluster path), else None."""
    callbacks: dict[str, str] = field(default_factory=dict)
    """A batch's callbacks: "on_success" / "on_complete" -> node key."""
    done: str | None = None
    """With a `callback_url`: the job (`jobsvc.workflow_done`) that runs once every node is
    final and whose completion webhook reports the workflow."""

    def dump(self) -> bytes:
        return orjson.dumps(
            {
                "k": self.kind,
                "n": self.nodes,
                "a": {k: v for k, v in self.after.items() if v},
                "t": self.created_ms,
                "g": self.gate,
                "c": self.callbacks,
                "d": self.done,
            }
        )

    @classmethod
    def load(cls, raw: bytes | str) -> "WorkflowRecord | Poison":
        try:
            d = orjson.loads(raw)
            nodes = {str(k): str(v) for k, v in d["n"].items()}
            after = {str(k): [str(p) for p in v] for k, v in d.get("a", {}).items()}
            callbacks = {str(k): str(v) for k, v in (d.get("c") or {}).items()}
            gate, done = d.get("g"), d.get("d")
            return cls(
                str(d["k"]),
                nodes,
                after,
                int(d["t"]),
                None if gate is None else str(gate),
                callbacks,
                None if done is None else str(done),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
            return Poison(
                "UndecodableWorkflow", "the stored workflow is not one this service wrote"
            )
