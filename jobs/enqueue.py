"""Put jobs on their queue: one atomic round trip per call (or per chunk of a bulk enqueue).

    await enqueue(redis, "send_email", SendEmail(...), defer_by=60, priority=5)
    await enqueue_many(redis, "send_email", [SendEmail(...), ...])

Works from the API, from another endpoint's handler, from a job, or from a script. A job goes
to its declared queue (`@job(queue=...)`) unless `queue=` names another; `priority` ranks it
within the queue (0 first; FIFO within one priority).
"""

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson
from arq.constants import expires_extra_ms
from pydantic import BaseModel
from redis.asyncio.cluster import RedisCluster

from jobs import keys, lua
from jobs.callbacks import DELIVERY_JOB, check_callback, delivery_for
from jobs.connection import RedisClient
from jobs.dependencies import MAX_PARENTS, OnParentFailure, UnknownParent, link, missing_parents
from jobs.flow import FlowControl
from jobs.records import JobDefinition, encode_gates
from jobs.registry import DECLARED, JobSpec, load_catalog
from settings import Settings, get_settings

MAX_PRIORITY = 1_000_000
BULK_CHUNK = 500
"""Jobs per script call in `enqueue_many`: big enough to amortise the round trip, small
enough not to hold the server for long."""


class UnknownJobName(LookupError):
    """`enqueue` was given a job name that no `@job` declares."""


class InvalidPriority(ValueError):
    """A priority outside 0..1,000,000."""


class QueuePinned(ValueError):
    """An enqueue named another queue for a job whose limits or uniqueness live on its
    declared queue (their state is kept in that queue's cluster slot)."""


@dataclass(frozen=True, slots=True)
class Enqueued:
    job_id: str
    outcome: Literal["created", "existing", "duplicate", "unique", "debounced"]
    """`existing`: the idempotency key was seen before (see `same_input`);
    `duplicate`: a job with this id exists already; `unique`: an equal job is not final yet
    (`job_id` is that job's; nothing was created); `debounced`: that waiting job took this
    input and waits again (`scheduled_ms` is its new due time)."""
    same_input: bool = True
    enqueued_ms: int = 0
    """The server's clock at enqueue (`created` only), like `scheduled_ms`."""
    scheduled_ms: int = 0
    payload: Any = None
    queue: str = ""
    priority: int = 0
    expires_ms: int | None = None
    """Not started by then (server ms), it never starts (`created` and `debounced` only)."""
    waiting: bool = False
    """It waits for parents (`after`)."""


def input_fingerprint(payload: Any) -> str:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _due(defer_by: float | timedelta | None, defer_until: datetime | None) -> tuple[int, int | str]:
    """(delay ms, absolute due ms or ''): the server adds the delay to its own clock."""
    if defer_until is not None:
        if defer_until.tzinfo is None:
            defer_until = defer_until.replace(tzinfo=UTC)
        return 0, int(defer_until.timestamp() * 1000)
    if defer_by is not None:
        seconds = defer_by.total_seconds() if isinstance(defer_by, timedelta) else defer_by
        return max(0, int(seconds * 1000)), ""
    return 0, ""


def resolve(job: JobSpec | str, settings: Settings) -> tuple[str, str, FlowControl]:
    """(name, declared queue, flow control) of a job given by spec or by name; unknown names
    raise."""
    if isinstance(job, JobSpec):
        return job.name, job.queue, job.flow
    if job not in DECLARED:
        load_catalog(settings)  # imports the task modules and JOB_MODULES, then look again
    declared = DECLARED.get(job)
    if declared is None:
        raise UnknownJobName(f"no job named {job!r} is declared")
    return job, declared.options.queue or settings.queue_name, declared.flow


def check_priority(priority: int) -> int:
    if not 0 <= priority <= MAX_PRIORITY:
        raise InvalidPriority(f"priority {priority} is not in 0..{MAX_PRIORITY}")
    return priority


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else value


@dataclass(frozen=True, slots=True)
class _Options:
    name: str
    queue: keys.QueueKeys
    priority: int
    delay_ms: int
    due_ms: int | str
    flow: FlowControl
    unique_ms: int | None
    """How long an equal enqueue returns this job (`unique_for`), if unique."""
    expires: str
    """`enqueue.lua`'s expiry field: '' none, '+{ms}' after enqueue, or absolute ms."""
    after: tuple[str, ...] = ()
    """The parents it waits for (`jobs.dependencies`)."""
    on_parent_failure: OnParentFailure = "fail"

    def expires_ms(self, now: int) -> int | None:
        """The expiry `enqueue.lua` wrote for a job it enqueued at `now` (server ms): so the
        202 view says `expires_at` as a later GET does."""
        if not self.expires:
            return None
        if self.expires.startswith("+"):
            return now + int(self.expires[1:])
        return int(self.expires)

    def row(self, job_id: str, data: Any) -> tuple[Any, ...]:
        definition = JobDefinition(
            self.name,
            [data],
            {},
            queue=self.queue.name,
            priority=self.priority,
            has_parents=bool(self.after),
        )
        flow = self.flow
        lock, mode, ttl = "", "", 0
        if self.unique_ms is not None or flow.debounce_s is not None:
            lock = flow.unique_lock(self.name, data)
            mode = "debounce" if flow.debounce_s is not None else "unique"
            ttl = self.unique_ms or 0
        gates = encode_gates(flow.gates(self.name, data), lock or None)
        return (
            job_id,
            definition.dump_open(),
            self.delay_ms,
            self.due_ms,
            self.priority,
            gates,
            lock,
            ttl,
            mode,
            self.expires,
            " ".join(self.after),
            self.on_parent_failure,
        )


def _options(
    job: JobSpec | str,
    queue: str | None,
    priority: int,
    defer_by: float | timedelta | None,
    defer_until: datetime | None,
    settings: Settings,
    unique_for: float | timedelta | None = None,
    expires_in: float | timedelta | None = None,
    expires_at: datetime | None = None,
    after: Sequence[str] = (),
    on_parent_failure: OnParentFailure = "fail",
) -> _Options:
    name, declared, flow = resolve(job, settings)
    parents = _check_parents(after, on_parent_failure, defer_by, defer_until, flow)
    if flow.debounce_s is not None and defer_by is None and defer_until is None:
        defer_by = flow.debounce_s
    delay_ms, due_ms = _due(defer_by, defer_until)
    chosen = declared if queue is None else queue  # '' is a bad name, not "the default"
    if chosen != declared and flow.pins_queue:
        raise QueuePinned(
            f"job {name!r} has limits or uniqueness kept on its queue {declared!r}: "
            f"it cannot be put on {chosen!r}"
        )
    unique = _seconds(unique_for) if unique_for is not None else flow.unique_for_s
    expires = ""
    if expires_at is not None:
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        expires = str(int(expires_at.timestamp() * 1000))
    elif expires_in is not None or flow.expires_s is not None:
        seconds = _seconds(expires_in) if expires_in is not None else flow.expires_s
        expires = f"+{max(0, int((seconds or 0) * 1000))}"
    return _Options(
        name,
        keys.queue(chosen),
        check_priority(priority),
        delay_ms,
        due_ms,
        flow,
        None if unique is None else max(1, int(unique * 1000)),
        expires,
        parents,
        on_parent_failure,
    )


class InvalidDependency(ValueError):
    """`after` is malformed, or asks for what a waiting job cannot do."""


def _check_parents(
    after: Sequence[str],
    on_parent_failure: str,
    defer_by: float | timedelta | None,
    defer_until: datetime | None,
    flow: FlowControl,
) -> tuple[str, ...]:
    if isinstance(after, str):
        raise InvalidDependency("after is a list of job ids, not one string")
    parents = tuple(dict.fromkeys(after))  # once each, in order
    if on_parent_failure not in ("fail", "ignore"):
        raise InvalidDependency(
            f"on_parent_failure is 'fail' or 'ignore', not {on_parent_failure!r}"
        )
    if not parents:
        return parents
    if len(parents) > MAX_PARENTS:
        raise InvalidDependency(f"{len(parents)} parents; at most {MAX_PARENTS}")
    bad = [p for p in parents if not isinstance(p, str) or not keys.JOB_ID.match(p)]
    if bad:
        raise InvalidDependency(f"not job ids: {', '.join(map(repr, bad[:5]))}")
    if defer_by is not None or defer_until is not None or flow.debounce_s is not None:
        raise InvalidDependency("a job that waits for parents starts when they are final: no defer")
    return parents


def _dump(payload: BaseModel | Any) -> Any:
    return payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload


def script_header(
    q: keys.QueueKeys, settings: Settings, idempotency: str = "", *, fresh: bool
) -> list[Any]:
    """`enqueue.lua`'s ARGV before the rows. Public for `jobs.workflows`, which puts the
    rows of many job types (`plan(...).row(...)`) in calls of its own, inside a transaction."""
    return [
        q.prefix,
        idempotency,
        expires_extra_ms,
        settings.result_ttl_s * 1000,
        max(settings.result_ttl_s, settings.failed_ttl_s) * 1000,
        settings.listing_max_jobs,
        "1" if fresh else "0",
        settings.dependency_wait_s * 1000,
        int(settings.dependency_sweep_s * 1000),
    ]


def plan(
    job: JobSpec | str,
    settings: Settings,
    *,
    queue: str | None = None,
    priority: int = 0,
    after: Sequence[str] = (),
    on_parent_failure: OnParentFailure = "fail",
) -> "_Options":
    """One job's checked options (raising what `enqueue` would), without enqueueing it: for
    `jobs.workflows`, which validates a whole graph before it writes anything."""
    return _options(
        job, queue, priority, None, None, settings, after=after, on_parent_failure=on_parent_failure
    )


async def _call(
    redis: RedisClient,
    o: _Options,
    rows: list[tuple[str, Any]],
    settings: Settings,
    idempotency: tuple[str, str] | None = None,
    *,
    fresh: bool,
    callback_url: str | None = None,
) -> list[Any]:
    """`fresh`: every id was made here (random): the script skips its duplicate checks.
    `callback_url`: each job's row is followed by its webhook delivery's, which waits for it
    (`jobs.callbacks`: linked by the script itself; the reply has a value for each row)."""
    q = o.queue
    args = script_header(q, settings, idempotency[1] if idempotency else "", fresh=fresh)
    deliveries = None
    if callback_url is not None:
        deliveries = plan(DELIVERY_JOB, settings, queue=q.name, on_parent_failure="ignore")
    for job_id, data in rows:
        args += o.row(job_id, data)
        if deliveries is not None and callback_url is not None:
            d = delivery_for(job_id, callback_url)
            args += replace(deliveries, after=(job_id,)).row(d.job_id, d.payload)
    idem_key = idempotency[0] if idempotency else q.index
    reply: list[Any] = await lua.script("enqueue")(
        redis, [q.due, q.levels, q.wake, q.index, idem_key], args
    )
    if reply[0] != b"existing":
        await _register(redis, q.name, new=reply[1] == 1)
    return reply


REGISTER_EVERY_S = 60.0
_registered: dict[str, float] = {}


async def _register(redis: RedisClient, queue: str, *, new: bool) -> None:
    """Name the queue in the registry `/queues` reads (a global key, so a command of its
    own): when the script says the queue is new (or its data was lost), and otherwise at
    most once a minute per process, in case the registry was lost on its own."""
    now = time.monotonic()
    if new or now - _registered.get(queue, -REGISTER_EVERY_S) >= REGISTER_EVERY_S:
        await redis.sadd(keys.QUEUES, queue)  # type: ignore[misc]
        _registered[queue] = now


async def enqueue(
    redis: RedisClient,
    job: JobSpec | str,
    payload: BaseModel | dict[str, Any],
    *,
    queue: str | None = None,
    priority: int = 0,
    defer_by: float | timedelta | None = None,
    defer_until: datetime | None = None,
    job_id: str | None = None,
    idempotency_key: str | None = None,
    unique_for: float | timedelta | None = None,
    expires_in: float | timedelta | None = None,
    expires_at: datetime | None = None,
    after: Sequence[str] = (),
    on_parent_failure: OnParentFailure = "fail",
    callback_url: str | None = None,
    settings: Settings | None = None,
) -> Enqueued:
    """Enqueue `job` with `payload` (validated by the caller; the worker validates again).

    `job_id` is the unique part of the id; the id names the queue (see `jobs.keys`).
    `unique_for` (seconds) overrides the job's declared `unique_for`; `expires_in` (seconds
    after enqueue) or `expires_at` its declared `expires`. `after`: job ids it waits for (it
    starts once all are final; `on_parent_failure` says what one that did not complete means:
    see `jobs.dependencies`); an unknown or expired one raises `UnknownParent`.
    `callback_url`: once final, the job's JobView is POSTed there, signed (`jobs.callbacks`:
    its delivery is created in the same step; a bad URL raises `InvalidCallback`)."""
    settings = settings or get_settings()
    if callback_url is not None:
        check_callback(callback_url, settings)
    o = _options(
        job,
        queue,
        priority,
        defer_by,
        defer_until,
        settings,
        unique_for,
        expires_in,
        expires_at,
        after,
        on_parent_failure,
    )
    data = _dump(payload)
    idempotency = None
    if idempotency_key:
        key = o.queue.idempotency(o.name, idempotency_key)
        idempotency = (key, input_fingerprint(data))
    return await _enqueue_one(redis, o, data, job_id, idempotency, settings, callback_url)


async def _enqueue_one(
    redis: RedisClient,
    o: _Options,
    data: Any,
    unique: str | None,
    idempotency: tuple[str, str] | None,
    settings: Settings,
    callback_url: str | None = None,
) -> Enqueued:
    job_id = keys.job_id_for(o.queue.name, unique)
    idem = (idempotency[0], f"{job_id} {idempotency[1]}") if idempotency else None
    if o.after:
        await _check_parents_exist(redis, o.after)
    reply = await _call(
        redis, o, [(job_id, data)], settings, idem, fresh=unique is None, callback_url=callback_url
    )
    if reply[0] == b"existing":
        existing_id, _, fingerprint = reply[1].decode().partition(" ")
        same = idempotency is not None and fingerprint == idempotency[1]
        return Enqueued(existing_id, "existing", same, queue=o.queue.name)
    now = int(reply[0])
    enqueued = _outcome(job_id, reply[2], now, data, o)
    if o.after and enqueued.outcome == "created":
        await link(redis, [job_id], o.after)
    return enqueued


async def _check_parents_exist(redis: RedisClient, parents: Sequence[str]) -> None:
    missing = await missing_parents(redis, parents)
    if missing:
        raise UnknownParent(missing)


def _outcome(job_id: str, reply: Any, now: int, data: Any, o: _Options) -> Enqueued:
    """One job's part of `enqueue.lua`'s reply: its due ms, -1, or an equal job's id."""
    if isinstance(reply, bytes):
        kind, other, *due = reply.decode().split(" ")
        if kind == "debounced":
            return Enqueued(
                other,
                "debounced",
                True,
                now,
                int(due[0]),
                data,
                o.queue.name,
                o.priority,
                o.expires_ms(now),
            )
        return Enqueued(other, "unique", queue=o.queue.name)
    if int(reply) < 0:
        return Enqueued(job_id, "duplicate", queue=o.queue.name)
    return Enqueued(
        job_id,
        "created",
        True,
        now,
        int(reply),
        data,
        o.queue.name,
        o.priority,
        o.expires_ms(now),
        bool(o.after),
    )


async def enqueue_cron_tick(
    redis: RedisClient,
    spec: JobSpec,
    payload: dict[str, Any],
    schedule: str,
    tick_ms: int,
    settings: Settings,
) -> Enqueued:
    """Enqueue one tick of a cron schedule, once: the tick's record and the job are written by
    the same script call, so a crash cannot record a tick without enqueueing it."""
    o = _options(spec, None, 0, None, datetime.fromtimestamp(tick_ms / 1000, UTC), settings)
    tick = (o.queue.cron_tick(schedule, tick_ms), "")
    return await _enqueue_one(redis, o, payload, f"cron:{schedule}:{tick_ms}", tick, settings)


async def enqueue_many(
    redis: RedisClient,
    job: JobSpec | str,
    payloads: Sequence[BaseModel | dict[str, Any]],
    *,
    queue: str | None = None,
    priority: int = 0,
    defer_by: float | timedelta | None = None,
    defer_until: datetime | None = None,
    unique_for: float | timedelta | None = None,
    expires_in: float | timedelta | None = None,
    expires_at: datetime | None = None,
    after: Sequence[str] = (),
    on_parent_failure: OnParentFailure = "fail",
    callback_url: str | None = None,
    settings: Settings | None = None,
) -> list[Enqueued]:
    """Enqueue many jobs of one type, in input order, one round trip per `BULK_CHUNK`. An
    item equal to a job not final yet (uniqueness) comes back as that job. With `after`,
    every item waits for those parents (a fan-out behind them). With `callback_url`, each
    job's webhook is delivered there (one delivery per job, created with it)."""
    settings = settings or get_settings()
    if callback_url is not None:
        check_callback(callback_url, settings)
    o = _options(
        job,
        queue,
        priority,
        defer_by,
        defer_until,
        settings,
        unique_for,
        expires_in,
        expires_at,
        after,
        on_parent_failure,
    )
    if o.after:
        await _check_parents_exist(redis, o.after)
    out: list[Enqueued] = []
    if not o.after and callback_url is None and not isinstance(redis, RedisCluster):
        return await _stream_chunks(redis, o, payloads, settings)
    step = BULK_CHUNK // 2 if callback_url else BULK_CHUNK  # a delivery row per job
    for start in range(0, len(payloads), step):
        rows = [(keys.job_id_for(o.queue.name), _dump(p)) for p in payloads[start : start + step]]
        reply = await _call(redis, o, rows, settings, fresh=True, callback_url=callback_url)
        now = int(reply[0])
        dues = reply[2::2] if callback_url else reply[2:]  # the deliveries' values skipped
        chunk = [
            _outcome(job_id, due, now, data, o)
            for (job_id, data), due in zip(rows, dues, strict=True)
        ]
        if o.after:
            await link(redis, [e.job_id for e in chunk if e.outcome == "created"], o.after)
        out += chunk
    return out


async def _stream_chunks(
    redis: RedisClient,
    o: _Options,
    payloads: Sequence[BaseModel | dict[str, Any]],
    settings: Settings,
) -> list[Enqueued]:
    """`enqueue_many`'s plain case on one server: the chunks go over ONE connection, each sent
    before the previous one's reply is read, so building a chunk (the producer's CPU) overlaps
    the server running the last one. One connection keeps them in order (FIFO across chunks);
    EVAL rather than EVALSHA: a server that lost its script cache cannot fail a chunk
    midstream. A connection error leaves the chunks before it enqueued, as one call each would."""
    q = o.queue
    source = lua.script("enqueue").source
    keys_ = [q.due, q.levels, q.wake, q.index, q.index]

    def command(start: int) -> tuple[list[tuple[str, Any]], list[Any]]:
        rows = [(keys.job_id_for(q.name), _dump(p)) for p in payloads[start : start + BULK_CHUNK]]
        args = script_header(q, settings, fresh=True)
        for job_id, data in rows:
            args += o.row(job_id, data)
        return rows, ["EVAL", source, len(keys_), *keys_, *args]

    out: list[Enqueued] = []
    new_queue = False  # a script said the queue had no bookkeeping yet: register its name
    starts = range(0, len(payloads), BULK_CHUNK)
    pool = redis.connection_pool
    conn = await pool.get_connection()
    try:
        sent: list[list[tuple[str, Any]]] = []
        for start in starts:
            rows, cmd = command(start)
            await conn.send_command(*cmd)
            sent.append(rows)
            if len(sent) > 1:
                reply = await conn.read_response()
                new_queue |= reply[1] == 1
                out += _chunk_outcomes(sent.pop(0), reply, o)
        for rows in sent:
            reply = await conn.read_response()
            new_queue |= reply[1] == 1
            out += _chunk_outcomes(rows, reply, o)
    except BaseException:
        await conn.disconnect()  # replies may be pending: the connection is not reusable
        raise
    finally:
        await pool.release(conn)
    if out:
        await _register(redis, q.name, new=new_queue)
    return out


def _chunk_outcomes(rows: list[tuple[str, Any]], reply: Any, o: _Options) -> list[Enqueued]:
    now = int(reply[0])
    return [
        _outcome(job_id, due, now, data, o)
        for (job_id, data), due in zip(rows, reply[2:], strict=True)
    ]
