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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Unpack

from pydantic import BaseModel
from redis.asyncio.cluster import RedisCluster

from jobs.declare.registry import JobSpec
from jobs.enqueue import replicas
from jobs.enqueue.group_commit import enqueue_row
from jobs.enqueue.options import EnqueueKwargs, EnqueueOptions
from jobs.enqueue.plan import Plan, dump_input, plan, script_args
from jobs.graph.dependencies import UnknownParent, link, missing_parents
from jobs.graph.edge_limit import check_edges
from jobs.graph.waiting_queues import note_waiting
from jobs.layout import encryption, keys, scripts, serialization
from jobs.layout.connection import RedisClient
from jobs.layout.records import IdempotencyRecord
from jobs.layout.script_rows import DUPLICATE, ORPHANED, HeldByEqual, row_answer
from jobs.settings import Settings, get_settings
from jobs.webhooks.callback import check_callback

BULK_CHUNK = 500
"""Jobs per script call in `enqueue_many`: big enough to amortise the round trip, small
enough not to hold the server for long."""


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What an enqueue did for one job."""

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
    """The hash an `Idempotency-Key` is compared by; `NotSerializable` for what JSON here
    cannot hold (an integer past 64 bits), as when the input is stored."""
    canonical = serialization.canonical(payload)
    ring = encryption.active()
    if ring is not None:  # keyed: a plain hash of a guessable input gives the input away
        return ring.hash(canonical.decode())
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """Where an enqueue's idempotency record goes, and the hash of its input ('' for a cron
    tick, whose input is the schedule's own)."""

    key: str
    fingerprint: str

    def record(self, job_id: str) -> IdempotencyRecord:
        return IdempotencyRecord(job_id, self.fingerprint)


async def _call(
    redis: RedisClient,
    o: Plan,
    rows: list[tuple[str, Any]],
    settings: Settings,
    idempotency: tuple[str, IdempotencyRecord] | None = None,
    *,
    fresh: bool,
    callback_url: str | None = None,
) -> list[Any]:
    """`fresh`: every id was made here (random): the script skips its duplicate checks.
    `callback_url`: each job's row is followed by its webhook delivery's, which waits for it
    (`jobs.webhooks.callback`: linked by the script itself; the reply has a value for each row)."""
    q = o.queue
    key, record = idempotency or (q.index, None)
    args = script_args(o, rows, settings, record, fresh=fresh, callback_url=callback_url)
    if o.after or callback_url is not None:  # it writes waiting jobs: the sweep must see them
        await note_waiting(redis, [q.name], settings)
    keys_ = [q.due, q.levels, q.wake, q.index, key]
    reply: list[Any] = await replicas.call(scripts.script("enqueue"), redis, keys_, args, settings)
    if reply[0] != b"existing":
        await _register(redis, q.name, new=reply[1] == 1)
    return reply


REGISTER_EVERY_S = 60.0
_registered: dict[str, float] = {}
"""Queue -> when this process last named it in the registry: declared queues only (`plan`
refuses any other), and emptied past `keys.QUEUE_CACHE_SIZE` all the same."""


async def _register(redis: RedisClient, queue: str, *, new: bool) -> None:
    """Name the queue in the registry `/queues` reads (a global key, so a command of its
    own): when the script says the queue is new (or its data was lost), and otherwise at
    most once a minute per process, in case the registry was lost on its own."""
    now = time.monotonic()
    if new or now - _registered.get(queue, -REGISTER_EVERY_S) >= REGISTER_EVERY_S:
        await redis.sadd(keys.QUEUES, queue)  # type: ignore[misc]
        if len(_registered) >= keys.QUEUE_CACHE_SIZE:
            _registered.clear()
        _registered[queue] = now


async def enqueue(
    redis: RedisClient,
    job: JobSpec | str,
    payload: BaseModel | dict[str, Any],
    options: EnqueueOptions | None = None,
    *,
    job_id: str | None = None,
    idempotency_key: str | None = None,
    settings: Settings | None = None,
    **kwargs: Unpack[EnqueueKwargs],
) -> Enqueued:
    """Enqueue `job` with `payload` (validated by the caller; the worker validates again),
    with `options` or the same as keyword arguments (`jobs.enqueue.options`).

    `job_id` is the unique part of the id; the id names the queue (see `jobs.layout.keys`).
    An unknown or expired parent in `after` raises `UnknownParent`; a bad `callback_url`
    `InvalidCallback` (its delivery is created in the same step: `jobs.webhooks.callback`);
    more parents than `MAX_EDGES_PER_REQUEST` `TooManyEdges`."""
    settings = settings or get_settings()
    o = EnqueueOptions.of(options, kwargs)
    if o.callback_url is not None:
        check_callback(o.callback_url, settings)
    p = plan(job, o, settings)
    check_edges(len(p.after), settings.max_edges_per_request, "after")
    data = dump_input(payload)
    idempotency = None
    if idempotency_key:
        key = p.queue.idempotency(p.name, idempotency_key)
        idempotency = IdempotencyKey(key, input_fingerprint(data))
    return await _enqueue_one(redis, p, data, job_id, idempotency, settings, o.callback_url)


async def _enqueue_one(
    redis: RedisClient,
    o: Plan,
    data: Any,
    unique: str | None,
    idempotency: IdempotencyKey | None,
    settings: Settings,
    callback_url: str | None = None,
) -> Enqueued:
    job_id = keys.job_id_for(o.queue.name, unique)
    idem = (idempotency.key, idempotency.record(job_id)) if idempotency else None
    if o.after:
        await _check_parents_exist(redis, o.after)
    elif idem is None and callback_url is None:
        # Nothing in its row depends on another row of a call: it may share one with the
        # single enqueues of others (`jobs.enqueue.group_commit`).
        now, new, value = await enqueue_row(
            redis, o.queue, settings, o.row(job_id, data), fresh=unique is None
        )
        await _register(redis, o.queue.name, new=new == 1)
        return _outcome(job_id, value, now, data, o)
    reply = await _call(
        redis, o, [(job_id, data)], settings, idem, fresh=unique is None, callback_url=callback_url
    )
    if reply[0] == b"existing":
        existing = IdempotencyRecord.parse(reply[1])
        same = idempotency is not None and existing.fingerprint == idempotency.fingerprint
        return Enqueued(
            job_id=existing.job_id, outcome="existing", same_input=same, queue=o.queue.name
        )
    now = int(reply[0])
    enqueued = _outcome(job_id, reply[2], now, data, o)
    if o.after and enqueued.outcome == "created":
        await link(redis, [job_id], o.after, wait_s=settings.dependency_wait_s)
    return enqueued


async def _check_parents_exist(redis: RedisClient, parents: Sequence[str]) -> None:
    missing = await missing_parents(redis, parents)
    if missing:
        raise UnknownParent(missing)


def _outcome(job_id: str, reply: Any, now: int, data: Any, o: Plan) -> Enqueued:
    """One job's part of `enqueue.lua`'s reply (`jobs.layout.script_rows.row_answer`)."""
    answer = reply if type(reply) is int else row_answer(reply)  # an int: no call per job
    if isinstance(answer, HeldByEqual):
        if answer.kind == "unique":
            return Enqueued(job_id=answer.job_id, outcome="unique", queue=o.queue.name)
        return Enqueued(
            job_id=answer.job_id,
            outcome="debounced",
            enqueued_ms=now,
            scheduled_ms=answer.due_ms or 0,
            payload=data,
            queue=o.queue.name,
            priority=o.priority,
            expires_ms=o.expires_ms(now),
        )
    if answer in (DUPLICATE, ORPHANED):
        return Enqueued(job_id=job_id, outcome="duplicate", queue=o.queue.name)
    # Positional, in field order: one per job, and a class called with keywords builds a dict.
    q, expires, waits = o.queue.name, o.expires_ms(now), bool(o.after)
    return Enqueued(job_id, "created", True, now, answer, data, q, o.priority, expires, waits)


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
    o = plan(
        spec, EnqueueOptions(defer_until=datetime.fromtimestamp(tick_ms / 1000, UTC)), settings
    )
    tick = IdempotencyKey(o.queue.cron_tick(schedule, tick_ms), "")
    return await _enqueue_one(redis, o, payload, f"cron:{schedule}:{tick_ms}", tick, settings)


async def enqueue_many(
    redis: RedisClient,
    job: JobSpec | str,
    payloads: Sequence[BaseModel | dict[str, Any]],
    options: EnqueueOptions | None = None,
    *,
    settings: Settings | None = None,
    **kwargs: Unpack[EnqueueKwargs],
) -> list[Enqueued]:
    """Enqueue many jobs of one type, in input order, one round trip per `BULK_CHUNK`. An
    item equal to a job not final yet (uniqueness) comes back as that job. With `after`,
    every item waits for those parents (a fan-out behind them): items x parents past
    `MAX_EDGES_PER_REQUEST` raises `TooManyEdges`, before anything is written. With
    `callback_url`, each job's webhook is delivered there (one delivery per job, created
    with it)."""
    settings = settings or get_settings()
    options = EnqueueOptions.of(options, kwargs)
    callback_url = options.callback_url
    if callback_url is not None:
        check_callback(callback_url, settings)
    o = plan(job, options, settings)
    edges = len(payloads) * len(o.after)
    check_edges(edges, settings.max_edges_per_request, f"{len(payloads)} jobs after {len(o.after)}")
    if o.after:
        await _check_parents_exist(redis, o.after)
    out: list[Enqueued] = []
    if not o.after and callback_url is None and not isinstance(redis, RedisCluster):
        return await _stream_chunks(redis, o, payloads, settings)
    step = BULK_CHUNK // 2 if callback_url else BULK_CHUNK  # a delivery row per job
    for start in range(0, len(payloads), step):
        rows = _new_rows(o, payloads[start : start + step])
        reply = await _call(redis, o, rows, settings, fresh=True, callback_url=callback_url)
        chunk = _chunk_outcomes(rows, reply, o, every=2 if callback_url else 1)
        if o.after:
            created = [e.job_id for e in chunk if e.outcome == "created"]
            await link(redis, created, o.after, wait_s=settings.dependency_wait_s)
        out += chunk
    return out


async def _stream_chunks(
    redis: RedisClient,
    o: Plan,
    payloads: Sequence[BaseModel | dict[str, Any]],
    settings: Settings,
) -> list[Enqueued]:
    """`enqueue_many`'s plain case on one server: the chunks go over ONE connection, each sent
    before the previous one's reply is read, so building a chunk (the producer's CPU) overlaps
    the server running the last one. One connection keeps them in order (FIFO across chunks);
    EVAL rather than EVALSHA: a server that lost its script cache cannot fail a chunk
    midstream. A connection error leaves the chunks before it enqueued, as one call each would."""
    q = o.queue
    source = scripts.script("enqueue").source
    keys_ = [q.due, q.levels, q.wake, q.index, q.index]

    def command(start: int) -> tuple[list[tuple[str, Any]], list[Any]]:
        rows = _new_rows(o, payloads[start : start + BULK_CHUNK])
        args = script_args(o, rows, settings, fresh=True)
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
        if settings.enqueue_wait_replicas:  # every chunk's write, on this connection
            wanted, timeout_ms = settings.enqueue_wait_replicas, settings.enqueue_wait_timeout_ms
            await conn.send_command("WAIT", wanted, timeout_ms)
            acknowledged = int(await conn.read_response())
    except BaseException:
        await conn.disconnect()  # replies may be pending: the connection is not reusable
        raise
    finally:
        await pool.release(conn)
    if out:
        await _register(redis, q.name, new=new_queue)
    if settings.enqueue_wait_replicas:
        replicas.check(acknowledged, settings)
    return out


def _new_rows(o: Plan, payloads: Sequence[BaseModel | dict[str, Any]]) -> list[tuple[str, Any]]:
    """(new id, input as JSON) for each payload."""
    return [(keys.job_id_for(o.queue.name), dump_input(p)) for p in payloads]


def _chunk_outcomes(
    rows: list[tuple[str, Any]], reply: Any, o: Plan, *, every: int = 1
) -> list[Enqueued]:
    """One chunk's outcomes, in order. `every`: reply values per job (2 when each job's row is
    followed by its webhook delivery's, whose value is skipped)."""
    now = int(reply[0])
    dues = reply[2::every]
    return [
        _outcome(job_id, due, now, data, o) for (job_id, data), due in zip(rows, dues, strict=True)
    ]
