"""The values stored in Redis, one codec each: job definitions, results, the state hash, gate
names, lease tokens, idempotency records, event messages, workflows.

Keys live in `jobs.layout.keys`; what is written under them is spelled here and nowhere else,
so a reader never splits a string a writer joined somewhere else. Decoding is total: bytes we did
not write (stock ARQ's pickle, a truncated value, another program's JSON) come back as a
`Poison` that says what is wrong, never as an exception out of a worker's claim loop or a 500.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import orjson

from jobs.layout import encryption
from jobs.layout.encryption import EncryptionError
from jobs.layout.serialization import serialize


@dataclass(frozen=True, slots=True)
class Poison:
    """Why a stored value cannot be used: an error record in the JobView's shape."""

    type: str
    message: str

    def error(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "retryable": False}


def _text(raw: bytes | str) -> str:
    """A stored value as text; bytes we did not write decode with replacement, never raise."""
    return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


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
    trace: str | None = None
    """`tp`: the W3C `traceparent` of its enqueue (`jobs.tracing`), only while tracing is on:
    its tries continue that trace."""

    def dump_open(self) -> bytes:
        """Everything but `et`, for `enqueue.lua` to close with the server's time. With
        encryption on, `a` and `k` are sealed together as `e` (`jobs.layout.encryption`)."""
        data: dict[str, Any] = {"t": None, "f": self.function}
        if encryption.active() is None:
            data["a"], data["k"] = self.args, self.kwargs
        else:
            data["e"] = encryption.seal_json([self.args, self.kwargs])
        if self.queue is not None:
            data["q"] = self.queue
        if self.priority:
            data["p"] = self.priority
        if self.has_parents:
            data["d"] = 1
        if self.trace is not None:
            data["tp"] = self.trace
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
        if "e" in d:
            try:
                d["a"], d["k"] = encryption.open_json(d["e"])
            except EncryptionError as exc:
                return Poison(exc.kind, exc.message)
            except (ValueError, TypeError):
                return Poison("UndecodableJob", "the sealed job arguments are not [a, k]")
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
        trace = d.get("tp")
        if not (trace is None or isinstance(trace, str)):
            trace = None  # a malformed trace context costs the trace, never the job
        # Positional, in field order: a class called with keywords builds a dict of them per
        # call, and the worker decodes one definition per try.
        return cls(function, args, kwargs, int(enqueued), queue, priority, expires, parents, trace)

    @property
    def payload(self) -> Any:
        """The input as enqueued: our `(payload,)`, or stock ARQ's keyword arguments."""
        return self.args[0] if self.args else (self.kwargs or None)


FinalStatus = Literal["complete", "failed", "aborted"]


def result_data(
    *,
    name: str,
    args: list[Any],
    kwargs: dict[str, Any],
    tries: int,
    enqueued_ms: int,
    status: FinalStatus,
    result: Any,
    started_ms: int | None,
    worker: str | None = None,
    priority: int = 0,
    steps: list[str] | None = None,
    trace: str | None = None,
) -> bytes:
    """`result:{id}`, the final record of a job: ARQ's result keys, minus what the key already
    says. `t` tries, `f` function, `a` args, `k` kwargs (omitted when empty), `et` enqueued ms,
    `s` success, `r` result or error, `st` started ms (absent: it never started), `status`
    (failed or aborted, which ARQ cannot tell apart; absent when `s` says complete), `w` the
    worker of the last try, `p` priority (when not 0), `sp` the durable steps its last try ran
    or replayed (when any), `tp` the `traceparent` of its enqueue (when tracing stored one: the
    job page links its trace after the end too), `ft` finished ms. With encryption on, `a`, `k`
    and `r` are sealed together as `e` (`open_result`); `s` and `status` stay readable
    (`link.lua` reads them). The id and the queue are the key's. Every byte counts: one of these
    is kept per finished job.

    Open JSON (`open_json`): the script that stores it appends `ft`, the server's time of the
    settle, so finish times agree with the failed registry's scores."""
    fields: dict[str, Any] = {
        "t": tries,
        "f": name,
        "a": args,
        "et": enqueued_ms,
        "s": status == "complete",
        "r": result,
    }
    if status != "complete":  # `s` says complete; failed and aborted need telling apart
        fields["status"] = status
    if kwargs:
        fields["k"] = kwargs
    if started_ms is not None:
        fields["st"] = started_ms
    if worker:
        fields["w"] = worker
    if priority:
        fields["p"] = priority
    if steps:
        fields["sp"] = steps
    if trace:
        fields["tp"] = trace
    if encryption.active() is not None:  # what the job got and gave, sealed together as `e`
        fields["e"] = encryption.seal_json([fields.pop("a"), fields.pop("k", {}), result])
        del fields["r"]
    return open_json(fields)


def open_result(d: dict[str, Any]) -> dict[str, Any]:
    """A final record (`result_data`) with its sealed `e` opened back into `a`, `k` and `r`;
    `EncryptionError` names the key it needs. A record written in clear comes back as it is."""
    if "e" not in d:
        return d
    try:
        args, kwargs, result = encryption.open_json(d.pop("e"))
    except (ValueError, TypeError):
        raise encryption.Undecryptable("the sealed result is not [a, k, r]") from None
    d["a"], d["r"] = args, result
    if kwargs:
        d["k"] = kwargs
    return d


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


GateKind = Literal["concurrency", "rate_limit"]
KINDS: dict[str, GateKind] = {"c": "concurrency", "r": "rate_limit"}


def gate_name(kind: Literal["c", "r"], job: str, key_text: str | None) -> str:
    """A flow-control gate's name: `c:{job}[:{key value}]` (concurrency) or `r:...` (rate),
    the suffix of its `running:`, `held:` and `tat:` keys."""
    return f"{kind}:{job}" if key_text is None else f"{kind}:{job}:{key_text}"


def split_gate(gate: str, job_names: Iterable[str]) -> tuple[GateKind, str, str | None] | None:
    """`c:send_mail:acme` -> ("concurrency", "send_mail", "acme"); a declared job's name wins
    over a split at the first `:` (job names may hold one). None for a malformed name."""
    kind, sep, rest = gate.partition(":")
    if kind not in KINDS or not sep or not rest:
        return None
    best = ""
    for name in job_names:
        if (rest == name or rest.startswith(name + ":")) and len(name) > len(best):
            best = name
    if best:
        key = rest[len(best) + 1 :] if len(rest) > len(best) else None
        return KINDS[kind], best, key
    job, sep, key = rest.partition(":")
    return KINDS[kind], job, key if sep else None


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


def _int(raw: bytes | None) -> int:
    try:
        return int(raw or 0)
    except ValueError:
        return 0


@dataclass(frozen=True, slots=True, kw_only=True)
class JobState:
    """`state:{id}`, a live job's hash, written by the scripts and read here only.

    Fields: `tries` (claim.lua), `progress` (JSON, progress.lua), `error` and `next` (the
    last failed try and when the next is due, finish.lua), `wait` (`WaitingAt`, flow.lua),
    `pass`/`admitted` (a gate let it through, flow.lua), `deps` (parents it still waits
    for), `op` (what a failed parent means: `fail`/`ignore`) and `after` (its parents, space
    separated; enqueue.lua), `p:{parent id}` (each parent's final status, deps.lua), `batch`
    (its batch's id, jobs.graph.workflow_commit), `step:{name}` (a durable step's result JSON,
    progress.lua), `sleep:{name}` and `sigwait:{name}` (when a durable sleep or a signal wait
    ends), `sig:{name}` (a signal's body, signal.lua), `parked` (the signal it waits for).
    Bytes we did not write read as absent. With encryption on, `progress`, `error`,
    `step:{name}` and `sig:{name}` are sealed (`jobs.layout.encryption.seal_bytes`)."""

    tries: int = 0
    progress: bytes | None = None
    error: bytes | None = None
    wait: WaitingAt | None = None
    waiting: bool = False
    """It waits for parents (`deps` is set)."""
    waiting_on: int = 0
    after: list[str] | None = None
    on_parent_failure: Literal["fail", "ignore"] = "fail"
    parent_statuses: dict[str, str] = field(default_factory=dict)
    batch: str | None = None
    steps: list[str] = field(default_factory=list)
    """The durable steps recorded (`step:{name}` fields, `jobs.declare.steps`), by name."""
    parked: str | None = None
    """The signal it waits for (`ctx.wait_for_signal`; finish.lua's `suspend`)."""

    BATCH: ClassVar[str] = "batch"
    """The field Python writes (a batch member's batch id)."""

    @classmethod
    def parse(cls, raw: dict[bytes, bytes]) -> "JobState":
        after, wait, batch = raw.get(b"after"), raw.get(b"wait"), raw.get(b"batch")
        return cls(
            tries=_int(raw.get(b"tries")),
            progress=_opened(raw.get(b"progress")),
            error=_opened(raw.get(b"error")),
            wait=WaitingAt.parse(wait) if wait is not None else None,
            waiting=b"deps" in raw,
            waiting_on=_int(raw.get(b"deps")),
            after=after.decode(errors="replace").split() if after is not None else None,
            on_parent_failure="ignore" if raw.get(b"op") == b"ignore" else "fail",
            parent_statuses={
                k[2:].decode(errors="replace"): v.decode(errors="replace")
                for k, v in raw.items()
                if k.startswith(b"p:")
            },
            batch=batch.decode(errors="replace") if batch else None,
            parked=parked.decode(errors="replace") if (parked := raw.get(b"parked")) else None,
            steps=sorted(
                k[len(b"step:") :].decode(errors="replace") for k in raw if k.startswith(b"step:")
            ),
        )


def _opened(raw: bytes | None) -> bytes | None:
    """A sealed state field (`jobs.layout.encryption.seal_bytes`) opened; one that cannot be
    reads as the error saying which key it needs, in the stored error's shape."""
    if raw is None or not encryption.is_sealed(raw):
        return raw
    try:
        opened = encryption.open_bytes(raw)
    except EncryptionError as exc:
        return serialize(Poison(exc.kind, exc.message).error())
    return opened if isinstance(opened, bytes) else opened.encode()


HELD_SEPARATOR = "|"
"""A held member is `{due score, 26 chars}|{id}` (written by flow.lua)."""


def held_job_id(member: bytes | str) -> str:
    """The job id of a member of a gate's `held:{gate}` set."""
    text = _text(member)
    return text.partition(HELD_SEPARATOR)[2]


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
        text = _text(raw)
        worker, _, rest = text.partition("|")
        started, _, claim_id = rest.partition("|")
        if not worker or not started.isdigit():
            return None
        return cls(worker, int(started), claim_id)


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """`idem:{job}:{key}`, and a cron tick's `cron:{schedule}:{ms}`: the job the first enqueue
    with that key created, and its input's hash (compared to a repeat's; '' for a tick).
    Written by `enqueue.lua` as `{id} {hash}` once the job is created."""

    job_id: str
    fingerprint: str

    def encode(self) -> str:
        return f"{self.job_id} {self.fingerprint}"

    @classmethod
    def parse(cls, raw: bytes | str) -> "IdempotencyRecord":
        text = _text(raw)
        job_id, _, fingerprint = text.partition(" ")
        return cls(job_id, fingerprint)


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
        text = _text(raw)
        kind, *job_ids = text.split() or [""]
        return cls(kind, job_ids)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowRecord:
    """A workflow or batch (`jobs.graph.workflows`, `jobs.graph.batches`), kept beside its first
    queue's keys: `{"k": kind, "n": {node key: job id}, "a": {node key: [node keys]}, "t": created
    ms (the server's clock), "g": commit gate id or null, "c": {callback: node key}, "d": the
    done job's id or null, "u": the callback URL or null, "i": [node keys whose
    on_parent_failure is ignore], "r": how many times it was retried}` ("u", "i" and "r" are
    absent in records older than `POST /workflows/{id}/retry`)."""

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
    callback_url: str | None = None
    """Kept so that a retry reports the workflow again."""
    ignore: frozenset[str] = frozenset()
    """Node keys enqueued with `on_parent_failure="ignore"` (a retry enqueues them so again)."""
    retries: int = 0
    """Retries so far (`jobs.graph.workflow_retry`): the fence of the next one."""

    def dump(self) -> bytes:
        record = {
            "k": self.kind,
            "n": self.nodes,
            "a": {k: v for k, v in self.after.items() if v},
            "t": self.created_ms,
            "g": self.gate,
            "c": self.callbacks,
            "d": self.done,
        }
        optional = {"u": self.callback_url, "i": sorted(self.ignore), "r": self.retries}
        return orjson.dumps(record | {k: v for k, v in optional.items() if v})

    @classmethod
    def load(cls, raw: bytes | str) -> "WorkflowRecord | Poison":
        try:
            d = orjson.loads(raw)
            nodes = {str(k): str(v) for k, v in d["n"].items()}
            after = {str(k): [str(p) for p in v] for k, v in d.get("a", {}).items()}
            callbacks = {str(k): str(v) for k, v in (d.get("c") or {}).items()}
            gate, done, url = d.get("g"), d.get("d"), d.get("u")
            return cls(
                kind=str(d["k"]),
                nodes=nodes,
                after=after,
                created_ms=int(d["t"]),
                gate=None if gate is None else str(gate),
                callbacks=callbacks,
                done=None if done is None else str(done),
                callback_url=None if url is None else str(url),
                ignore=frozenset(str(k) for k in d.get("i") or ()),
                retries=int(d.get("r") or 0),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
            return Poison(
                "UndecodableWorkflow", "the stored workflow is not one this service wrote"
            )
