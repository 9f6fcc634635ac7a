"""Group commit for single enqueues: concurrent `enqueue()` calls share one script call.

While one `enqueue.lua` call for a queue is in flight on a client, the single enqueues that
arrive for that queue on that client wait together, and go as ONE call of several rows once
it is answered (what Postgres does with concurrent commits, and the worker with its settles,
`jobs.worker.capacity`). Each caller gets its own row of the reply. A call with nothing in flight
goes at once: one request at a time waits no longer than before; only a busy producer (a web
process under load, `asyncio.gather` of enqueues) batches, and then one round trip (the
client's packing, two syscalls, the server's wake-up and parsing) serves many jobs.

Only rows whose outcome does not depend on the other rows of their call come here (no
`Idempotency-Key`: the script takes one per call; no `after`; no webhook delivery rows):
`jobs.enqueue.submit` decides. Rows of one call touch one queue, hence one Redis Cluster slot.
A failure of a call reaches every caller whose row it carried, as the same call alone would
have failed for each; nothing is sent again.
"""

import asyncio
from collections import deque
from typing import Any
from weakref import WeakKeyDictionary

from jobs.enqueue import replicas
from jobs.enqueue.plan import script_header
from jobs.layout import keys, scripts
from jobs.layout.connection import RedisClient
from jobs.layout.script_rows import EnqueueRow
from jobs.settings import Settings

MAX_ROWS = 500
"""Rows per coalesced call at most (as `enqueue_many`'s chunks): more wait for the next."""

RowReply = tuple[int, int, Any]
"""A row's answer: (server ms, 1 if the queue had no bookkeeping yet, the row's own value)."""


class _Batch:
    __slots__ = ("fresh", "rows", "waiters")

    def __init__(self) -> None:
        self.rows: list[EnqueueRow] = []
        self.waiters: list[asyncio.Future[RowReply]] = []
        self.fresh = True


class _Lane:
    """One queue on one client (with one set of script settings): at most one call in flight,
    the rows that arrived meanwhile waiting behind it."""

    __slots__ = ("busy", "q", "settings", "waiting")

    def __init__(self, q: keys.QueueKeys, settings: Settings) -> None:
        self.q, self.settings = q, settings
        self.busy = False
        self.waiting: deque[_Batch] = deque()

    def script_keys(self) -> list[str]:
        q = self.q
        return [q.due, q.levels, q.wake, q.index, q.index]


_lanes: "WeakKeyDictionary[RedisClient, dict[tuple[Any, ...], _Lane]]" = WeakKeyDictionary()
_sending: set["asyncio.Task[None]"] = set()  # strong references to the batches' sender tasks


async def enqueue_row(
    redis: RedisClient,
    q: keys.QueueKeys,
    settings: Settings,
    row: EnqueueRow,
    *,
    fresh: bool,
) -> RowReply:
    """Enqueue one job's row (`Plan.row`) on `q`: sent at once if no call of this queue is
    in flight on `redis`, else with the others that wait for it. `fresh`: the id was made
    here (random); a batch is fresh when all its rows are."""
    header = script_header(q, settings, fresh=True)
    lanes = _lanes.get(redis)
    if lanes is None:
        lanes = _lanes[redis] = {}
    lane_key = tuple(header)  # the queue, and the settings the script is given
    lane = lanes.get(lane_key)
    if lane is None:
        lane = lanes[lane_key] = _Lane(q, settings)
    if not lane.busy:
        lane.busy = True
        if not fresh:
            header = script_header(q, settings, fresh=False)
        try:
            script = scripts.script("enqueue")
            reply = await replicas.call(
                script, redis, lane.script_keys(), [*header, *row], settings
            )
        finally:
            _next(redis, lane)
        return int(reply[0]), reply[1], reply[2]
    waiting = lane.waiting
    if not waiting or len(waiting[-1].rows) >= MAX_ROWS:
        waiting.append(_Batch())
    batch = waiting[-1]
    future: asyncio.Future[RowReply] = asyncio.get_running_loop().create_future()
    batch.rows.append(row)
    batch.waiters.append(future)
    batch.fresh = batch.fresh and fresh
    return await future  # a caller cancelled before its batch is sent drops its row


def _next(redis: RedisClient, lane: _Lane) -> None:
    """The lane's call is answered: send what waits behind it, or mark it idle."""
    if not lane.waiting:
        lane.busy = False
        return
    task = asyncio.get_running_loop().create_task(_send(redis, lane, lane.waiting.popleft()))
    _sending.add(task)
    task.add_done_callback(_sending.discard)


async def _send(redis: RedisClient, lane: _Lane, batch: _Batch) -> None:
    try:
        live = [i for i, w in enumerate(batch.waiters) if not w.done()]  # done: cancelled
        if not live:
            return
        args = script_header(lane.q, lane.settings, fresh=batch.fresh, coalesced=True)
        for i in live:
            args += batch.rows[i]
        try:
            script = scripts.script("enqueue")
            reply = await replicas.call(script, redis, lane.script_keys(), args, lane.settings)
        except Exception as exc:  # each caller gets what its call alone would have raised
            for i in live:
                if not batch.waiters[i].done():
                    batch.waiters[i].set_exception(exc)
            return
        except BaseException:  # cancelled (the loop is closing): so are its callers
            for i in live:
                batch.waiters[i].cancel()
            raise
        now, new = int(reply[0]), reply[1]
        for value, i in zip(reply[2:], live, strict=True):
            if not batch.waiters[i].done():
                batch.waiters[i].set_result((now, new, value))
    finally:
        _next(redis, lane)
