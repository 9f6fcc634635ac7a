"""Settles finished tries in batches: one script call for everything that ended meanwhile.

Every row carries the lease token of the try it settles; `finish.lua` refuses a row whose
lease is no longer held by that token (the worker was paused or cut off past its lease and
another worker may own the job now), so a stale worker never overwrites a result.

Outcomes are counted here, once `finish.lua` has stored them (the worker's counts in its
heartbeat, the stats behind `/metrics`): a refused row counts nothing, so a try that lost its
lease is never counted complete.

A result is never dropped while the worker runs: when Redis is unreachable the batch is kept
and retried. At shutdown the worker waits for it only so long (`flushed(timeout)`); a try
left unsettled then runs again once its lease ends.
"""

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Literal, NamedTuple

from redis.exceptions import OutOfMemoryError, RedisError

from jobs.graph import dependencies
from jobs.layout import keys, scripts
from jobs.layout.connection import RedisClient
from jobs.reading.stats import JobStats

logger = logging.getLogger("jobs.worker")

FinalKind = Literal["complete", "failed", "aborted"]


class Settle(NamedTuple):
    """One row of `finish.lua`, its 6 values in order; build it with `final`, `retry`,
    `requeue` or `defer`. (A tuple: immutable, and built in a third of a frozen dataclass's
    time.)"""

    kind: Literal["complete", "failed", "aborted", "retry", "requeue", "defer", "suspend"]
    job_id: str
    token: str
    a: bytes | str | int = ""
    b: bytes | str | int = ""
    c: str = ""

    @classmethod
    def final(
        cls,
        kind: FinalKind,
        job_id: str,
        token: str,
        data: bytes,
        ttl_ms: int,
        unlist: bool,
        stock: bool = False,
    ) -> "Settle":
        """`unlist`: the job keeps no result (`keep_result=0`): drop it from the listing.
        `stock`: a stock ARQ producer enqueued it: on a single Redis its record is copied to
        ARQ's `arq:result:{id}` too, for a stock ARQ client (`finish.lua`)."""
        return cls(
            kind, job_id, token, data, ttl_ms, ("1" if unlist else "") + ("a" if stock else "")
        )

    @classmethod
    def retry(cls, job_id: str, token: str, delay_ms: int, error: bytes) -> "Settle":
        """The next try is due `delay_ms` after the server's now."""
        return cls("retry", job_id, token, delay_ms, error)

    @classmethod
    def requeue(cls, job_id: str, token: str) -> "Settle":
        """Shutdown: ready again at once, and the interrupted try does not count."""
        return cls("requeue", job_id, token)

    @classmethod
    def defer(cls, job_id: str, token: str, delay_ms: int, name: str) -> "Settle":
        """A job this worker does not know (`name`): due again `delay_ms` after the server's
        now, for a worker that knows it; the try does not count, and the queue lists the job
        as waiting for such a worker until one claims it."""
        return cls("defer", job_id, token, delay_ms, name)

    @classmethod
    def suspend(cls, job_id: str, token: str, delay_ms: int, signal: str) -> "Settle":
        """The job sleeps, or waits for `signal` (parked), for `delay_ms` at most; the try does
        not count, and holds no slot meanwhile (`ctx.sleep`, `ctx.wait_for_signal`)."""
        return cls("suspend", job_id, token, delay_ms, signal)


COUNTED = {
    "complete": "complete",
    "failed": "failed",
    "aborted": "aborted",
    "retry": "retried",
    "requeue": "requeued",
    "defer": "put_back",
    "suspend": "suspended",
}
"""The worker's count of each kind of row, and its stats outcome but for the two that give a
job back without a try ("requeued" at shutdown, "put_back" for a worker that knows it)."""
NOT_AN_OUTCOME = frozenset(("requeued", "put_back", "suspended"))

LINGER_S = 0.005
"""How long a small batch waits for company while other tries are still running (an idle
worker's lone try is settled at once): under load, one call per ~20-30 tries instead of ~8
(each call costs the server a round trip: tens of µs of CPU on a small VM)."""
LINGER_BELOW = 64


class Finisher:
    def __init__(
        self,
        redis: RedisClient,
        legacy: bool,
        more_coming: Callable[[], bool] = lambda: False,
        lease_ms: int = 30_000,
        stats: JobStats | None = None,
    ) -> None:
        self._redis = redis
        self._stats = stats or JobStats()
        self.counts = dict.fromkeys(COUNTED.values(), 0)
        """Stored outcomes by kind since start (the worker's heartbeat shows them)."""
        self._legacy = "1" if legacy else "0"
        self._lease_ms = lease_ms
        """How long a slot a settle frees stays reserved for the held job it goes to."""
        self._more_coming = more_coming
        self._pending: list[Settle] = []
        self._jobs: list[str] = []
        self._durations: list[int] = []
        """Per pending row: its job's name and how long its try ran (ms), for the stats."""
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.lost = 0
        """Rows refused because their lease had gone to another try (since start)."""
        self.batches = 0
        """Batches stored so far: a claim sent before the last one may have missed it."""

    def submit(self, settle: Settle, job: str, duration_ms: int) -> None:
        """Store `settle` soon; once stored, count it for `job` (a try of `duration_ms`)."""
        self._pending.append(settle)
        self._jobs.append(job)
        self._durations.append(duration_ms)
        self._idle.clear()
        self._ready.set()

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    @property
    def unsettled(self) -> int:
        return len(self._pending)

    async def flushed(self, timeout_s: float | None = None) -> bool:
        """Wait until everything submitted so far is in Redis; False if `timeout_s` ran out."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        script = scripts.script("finish")
        delay, resent = 0.05, False
        while True:
            await self._ready.wait()
            if len(self._pending) < LINGER_BELOW and self._more_coming():
                # Under load, tries end a few at a time: one call for many saves round trips
                # and server work; an idle worker's lone job is settled at once.
                await asyncio.sleep(LINGER_S)
            batch, self._pending = self._pending, []
            jobs, self._jobs = self._jobs, []
            durations, self._durations = self._durations, []
            self._ready.clear()
            try:
                lost = await self.store(batch, script)
            except RedisError as exc:
                logger.warning("could not settle %d jobs, retrying: %s", len(batch), exc)
                self._pending[:0] = batch
                self._jobs[:0] = jobs
                self._durations[:0] = durations
                self._ready.set()
                # A script refused for memory wrote nothing; one cut off may have run.
                resent = resent or not isinstance(exc, OutOfMemoryError)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            self.batches += 1
            self._report_lost(lost, resent)
            # Resent, a row reported lost may have been stored by the first attempt: counted.
            self._count(batch, jobs, durations, lost if not resent else [])
            delay, resent = 0.05, False
            if not self._pending:
                self._idle.set()

    async def store(self, batch: list[Settle], script: scripts.Script | None = None) -> list[str]:
        """Store `batch` now, one call per queue in it (each queue is its own cluster slot);
        the ids whose lease had gone to another try (nothing written for them)."""
        script = script or scripts.script("finish")
        by_queue: dict[keys.QueueKeys, list[Settle]] = {}
        for settle in batch:
            by_queue.setdefault(keys.of_job(settle.job_id), []).append(settle)
        lost: list[str] = []
        releases: list[dependencies.Release] = []
        for q, rows in by_queue.items():
            args: list[bytes | str | int] = [q.prefix, self._legacy, self._lease_ms]
            args += [value for row in rows for value in row]
            refused, owed = await script(self._redis, [q.due, q.failed, q.index], args)
            lost += [i.decode() for i in refused]
            releases += dependencies.releases_from(owed)
        if releases:  # jobs on other queues waiting for the ones just settled
            try:
                await dependencies.send_releases(self._redis, releases)
            except RedisError as exc:  # stored already: a sweep sends them (never twice)
                logger.warning("could not release %d waiting jobs now: %s", len(releases), exc)
        return lost

    def _count(
        self, batch: list[Settle], jobs: list[str], durations: list[int], lost: list[str]
    ) -> None:
        """Count the stored rows of `batch` (all but those refused as `lost`)."""
        refused = Counter(lost) if lost else None
        counts, stats = self.counts, self._stats
        for settle, job, duration_ms in zip(batch, jobs, durations, strict=True):
            if refused and refused[settle.job_id] > 0:
                refused[settle.job_id] -= 1  # by id: a stale and a live row of one job match
                continue
            counted = COUNTED[settle.kind]
            counts[counted] += 1
            if counted not in NOT_AN_OUTCOME:
                stats.outcome(job, counted, duration_ms)

    def _report_lost(self, job_ids: list[str], resent: bool) -> None:
        if resent:
            # The first attempt may have been applied before its reply was lost: rows it
            # settled come back as "lost" now, harmlessly.
            logger.info("settled after reconnecting; %d rows already applied", len(job_ids))
            return
        self.lost += len(job_ids)
        for job_id in job_ids:
            logger.warning(
                "lease lost: not storing the outcome of this try (the lease ran out; another "
                "worker may hold the job now)",
                extra={"job_id": job_id},
            )
