"""The worker: an `arq.worker.Worker` whose main loop closes stock ARQ's holes.

- wakes on enqueue (BLPOP on the queue's wake list), polls only as a fallback;
- claims ready jobs in batches with one Lua script; the claim is a lease it renews;
- settles finished tries in batched script calls (`Finisher`);
- retries any retryable exception with backoff and jitter;
- on SIGTERM takes no new job, lets running ones finish within a grace period, re-queues the
  rest without counting the try;
- runs cron ticks exactly once across workers.

`WorkerSettings` still runs under stock `arq jobs.worker.WorkerSettings` (without the extras).
"""

import asyncio
import contextlib
import logging
import signal
import time
from typing import Any

from arq.connections import ArqRedis
from arq.worker import Worker as ArqWorker
from redis.exceptions import RedisError

from jobs import heartbeat, keys, lua
from jobs.attempt import Attempts, Claimed
from jobs.connection import create_redis
from jobs.cron import schedules_for
from jobs.eviction import eviction_policy, policy_warning
from jobs.finisher import Finisher, Settle
from jobs.records import JobDefinition, LeaseToken
from jobs.registry import load_catalog
from jobs.scheduler import run_schedules
from jobs.serialization import deserialize, serialize
from jobs.stats import JobStats
from jobs.stock import stock_worker_settings
from settings import Settings, get_settings

logger = logging.getLogger("jobs.worker")


def _ms() -> int:
    return int(time.time() * 1000)


SETTLE_AT_EXIT_S = 3.0
"""At shutdown, how long to keep trying to store outcomes once the grace is over (Redis may be
gone: an unsettled try runs again after its lease, so the worker exits rather than hang)."""


class Worker(ArqWorker):
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        burst: bool = False,
        redis: ArqRedis | None = None,
        handle_signals: bool = True,
    ) -> None:
        self.settings = settings = settings or get_settings()
        # Every declared job: a job may be enqueued on any queue (a stock ARQ producer, or an
        # override), and the worker must run it, not fail it as unknown.
        self.catalog = load_catalog(settings)
        self.schedules = schedules_for(self.catalog)  # raises on a schedule of an unknown job
        self.worker_id = heartbeat.new_worker_id()
        super().__init__(
            functions=[spec.arq_function() for spec in self.catalog.values()],
            queue_name=settings.queue_name,
            redis_pool=redis or create_redis(settings),
            burst=burst,
            handle_signals=False,
            max_jobs=settings.worker_concurrency,
            job_timeout=settings.job_timeout_s,
            keep_result=settings.result_ttl_s,
            max_tries=settings.default_max_tries,
            health_check_interval=settings.heartbeat_s,
            job_serializer=serialize,
            job_deserializer=deserialize,
        )
        self._install_signals = handle_signals
        self._running: dict[str, Claimed] = {}
        self._stopping = asyncio.Event()
        self._hurry = asyncio.Event()
        """A second SIGTERM/SIGINT: stop waiting for running jobs."""
        self._slot_free = asyncio.Event()
        self._claims = 0
        self._unconfirmed: list[str] = []
        """Claim calls whose reply never came (the script may have run): see `_recover`."""

        self._finisher = Finisher(self.pool, self.queue_name, lambda: bool(self._running))
        self._lease_ms = int(settings.lease_s * 1000)
        self.stats = JobStats()  # for /metrics: see jobs/stats.py
        self._attempts = Attempts(
            settings,
            self.catalog,
            self.queue_name,
            self.ctx,
            self.stats,
            self._wake_later,
        )
        self.counts = self._attempts.counts

    # --- lifecycle -------------------------------------------------------------------------

    def stop(self) -> None:
        """Take no new job; running ones get `shutdown_grace_s` (called on SIGTERM/SIGINT).

        A second call stops waiting: running jobs are re-queued at once."""
        if not self._stopping.is_set():
            logger.info("stopping: %d jobs running", len(self._running))
            self._stopping.set()
            self._slot_free.set()  # wakes a claim loop waiting for capacity
        elif not self._hurry.is_set():
            logger.info("stopping now: re-queueing %d running jobs", len(self._running))
            self._hurry.set()

    async def main(self) -> None:
        if self._install_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        self.ctx.update(redis=self.pool, worker_id=self.worker_id, settings=self.settings)
        if self.on_startup:
            await self.on_startup(self.ctx)
        await self._check_eviction_policy()
        logger.info(
            "worker %s started: queue %s, %d jobs, concurrency %d",
            self.worker_id,
            self.queue_name,
            len(self.catalog),
            self.max_jobs,
        )
        background = [
            asyncio.create_task(self._finisher.run(), name="finisher"),
            asyncio.create_task(self._every(self.settings.lease_s / 3, self._renew_leases)),
            asyncio.create_task(self._every(0.2, self._watch_aborts)),
            asyncio.create_task(self._every(self.settings.heartbeat_s, self._heartbeat)),
            asyncio.create_task(self._every(1.0, self._flush_stats)),
        ]
        if self.schedules and self.settings.cron_enabled and not self.burst:
            background.append(
                asyncio.create_task(
                    run_schedules(self.pool, self.schedules, self.catalog, self.settings)
                )
            )
        try:
            await self._heartbeat()
            await self._claim_loop()
            await self._drain()
            await self._settle_remaining()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            # Redis may be gone: each goodbye gets a short bound, so the process always ends.
            with contextlib.suppress(RedisError, TimeoutError):
                await asyncio.wait_for(self._flush_stats(), 1.0)
            with contextlib.suppress(RedisError, TimeoutError):
                await asyncio.wait_for(heartbeat.leave(self.pool, self.worker_id), 1.0)
            if self.on_shutdown:
                await self.on_shutdown(self.ctx)
            logger.info("worker %s stopped: %s", self.worker_id, self.counts)

    async def _settle_remaining(self) -> None:
        """Store the outcomes of the last tries: fully in burst mode, within a bound at stop."""
        bound = SETTLE_AT_EXIT_S if self._stopping.is_set() else None
        if not await self._finisher.flushed(bound):
            logger.warning(
                "exiting with %d outcomes not stored (Redis unreachable); those jobs run "
                "again when their leases end",
                self._finisher.unsettled,
            )

    async def _check_eviction_policy(self) -> None:
        """Job definitions carry TTLs: an evicting maxmemory policy would drop queued jobs."""
        try:
            warning = policy_warning(await eviction_policy(self.pool))
        except RedisError as exc:
            logger.warning("could not read the server's eviction policy: %s", exc)
            return
        if warning:
            logger.warning(warning)

    async def _every(self, interval_s: float, action: Any) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await action()
            except RedisError as exc:
                logger.warning("%s failed: %s", action.__name__, exc)

    # --- claiming --------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            free = self.max_jobs - len(self._running)
            if free <= 0:
                # At capacity this wait happens once per finished job: a plain event wait
                # (stop() sets it too), not `_first`'s two extra futures.
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            limit = min(free, self.settings.claim_batch)
            try:
                next_due_ms = await self._claim(limit)
                failures = 0
            except RedisError as exc:
                failures += 1
                logger.warning("claim failed (Redis unreachable?): %s", exc)
                await self._first(self._stopping.wait(), min(0.1 * 2**failures, 5.0))
                continue
            if next_due_ms is None:
                continue  # claimed something: look for more straight away
            if self.burst and self._burst_done(next_due_ms):
                if self._finisher.busy:
                    await self._finisher.flushed()  # a retry may be about to come due
                    continue
                return
            wait_s = self.settings.poll_fallback_s
            if next_due_ms:
                wait_s = min(wait_s, max((next_due_ms - _ms()) / 1000, 0.0))
            if self.burst and self._running:
                await self._first(self._slot_free.wait(), wait_s)
                self._slot_free.clear()
            elif wait_s > 0.005:
                await self._first(self._wait_then_claim(wait_s, limit), None)

    async def _claim(self, limit: int) -> int | None:
        """Start up to `limit` ready jobs. None if any started, else the next due score (or 0)."""
        if self._unconfirmed:
            await self._recover()
        claim_id = self._new_claim_id()
        try:
            reply = await lua.script("claim")(
                self.pool, self._claim_keys(claim_id), self._claim_args(limit, claim_id)
            )
        except RedisError:
            self._unconfirmed.append(claim_id)
            raise
        return self._start_claimed(reply, claim_id)

    def _new_claim_id(self) -> str:
        self._claims += 1
        return f"{self.worker_id}:{self._claims}"

    def _claim_keys(self, claim_id: str) -> list[str]:
        return [self.queue_name, keys.claim(claim_id)]

    def _claim_args(self, limit: int, claim_id: str) -> list[Any]:
        return [self._lease_ms, limit, self.worker_id, claim_id]

    async def _recover(self) -> None:
        """Start what claim calls took when their replies were lost (Redis dropped the
        connection after running the script): at once, with the try they already counted,
        instead of after a whole lease with a try burned."""
        script = lua.script("reclaim")
        while self._unconfirmed:
            claim_id = self._unconfirmed[0]
            reply = await script(self.pool, [keys.claim(claim_id)], [])
            self._unconfirmed.pop(0)
            if reply:
                logger.info("recovered a claim whose reply was lost: %d jobs", len(reply) // 3)
                self._start_claimed(reply, claim_id)

    def _start_claimed(self, reply: list[Any], claim_id: str) -> int | None:
        if len(reply) == 2:
            return int(float(reply[0])) if reply[0] else 0
        now = int(reply[1])
        # The same token claim.lua wrote, or every renewal and settle would be refused.
        token = LeaseToken(self.worker_id, now, claim_id).encode()
        for i in range(2, len(reply), 3):
            job_id = reply[i].decode()
            raw = reply[i + 1]
            definition = JobDefinition.load(raw) if raw else None
            claimed = Claimed(job_id, definition, int(reply[i + 2]), token, now)
            if job_id in self._running:
                continue  # already running (a recovered claim overlapping a live one)
            self._running[job_id] = claimed
            if isinstance(definition, JobDefinition):
                self.stats.picked_up(claimed.tries, definition.enqueued_ms, now)
            claimed.task = asyncio.create_task(self._run(claimed))
        return None

    async def _wait_then_claim(self, timeout_s: float, limit: int) -> None:
        """Block until a producer pushes a wake token (or `timeout_s` passes), then claim.

        Both go in one pipeline: Redis runs the claim the moment BLPOP returns, so a job
        enqueued to an idle worker starts after one round trip, not two.
        """
        script = lua.script("claim")
        if self._unconfirmed:
            await self._claim(limit)  # recovers first; a normal claim returns straight away
            return
        claim_id = self._new_claim_id()
        try:
            async with self.pool.pipeline(transaction=False) as pipe:
                pipe.blpop([keys.wake(self.queue_name)], timeout=timeout_s)  # type: ignore[arg-type]
                pipe.evalsha(
                    script.sha,
                    2,
                    *self._claim_keys(claim_id),
                    *self._claim_args(limit, claim_id),
                )
                _, reply = await pipe.execute(raise_on_error=False)
            if isinstance(reply, Exception):  # e.g. NOSCRIPT after a Redis restart
                await self._claim(limit)
            else:
                self._start_claimed(reply, claim_id)
        except RedisError as exc:
            self._unconfirmed.append(claim_id)
            logger.warning("waiting for work failed: %s", exc)
            await self._first(self._hurry.wait(), min(timeout_s, 1.0))

    async def _first(self, awaitable: Any, timeout_s: float | None) -> None:
        """Wait for `awaitable`, a stop request, or the timeout, whichever comes first."""
        waiter = asyncio.ensure_future(awaitable)
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({waiter, stopping}, timeout=timeout_s, return_when="FIRST_COMPLETED")
        finally:
            for f in (waiter, stopping):
                f.cancel()

    def _burst_done(self, next_due_ms: int) -> bool:
        """Burst mode ends when nothing runs and nothing comes due within the poll fallback."""
        if self._running:
            return False
        return not next_due_ms or next_due_ms - _ms() > self.settings.poll_fallback_s * 1000

    # --- running one try -------------------------------------------------------------------

    async def _run(self, claimed: Claimed) -> None:
        settle: Settle | None
        try:
            settle = await self._attempts.run(claimed)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if claimed.cancel_reason is None or task is None:
                raise
            task.uncancel()
            settle = self._attempts.cancelled(claimed)
        finally:
            self._running.pop(claimed.job_id, None)
            self._slot_free.set()
        if settle is not None:
            self._finisher.submit(settle)

    # --- background duties -----------------------------------------------------------------

    async def _renew_leases(self) -> None:
        if not self._running:
            return
        args: list[Any] = [self._lease_ms]
        for claimed in list(self._running.values()):
            args += (claimed.job_id, claimed.token)
        lost = await lua.script("renew")(self.pool, [self.queue_name], args)
        for job_id in lost:
            self._cancel(job_id.decode(), "lost")

    async def _watch_aborts(self) -> None:
        if not self._running:
            return
        for job_id in await self.pool.zrange(keys.ABORT, 0, -1):
            self._cancel(job_id.decode(), "abort")

    def _wake_later(self, delay_s: float) -> None:
        """Push a wake token when a retry comes due, so no worker sleeps through it."""
        if delay_s < self.settings.poll_fallback_s:
            asyncio.get_running_loop().call_later(delay_s, self._push_wake)

    def _push_wake(self) -> None:
        task = asyncio.ensure_future(self.pool.lpush(keys.wake(self.queue_name), "1"))  # type: ignore[arg-type]
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def _cancel(self, job_id: str, reason: str) -> None:
        claimed = self._running.get(job_id)
        if claimed and claimed.task and claimed.cancel_reason is None:
            claimed.cancel_reason = reason
            claimed.task.cancel()

    async def _heartbeat(self) -> None:
        info = {"running": len(self._running), **self.counts, "stopping": self._stopping.is_set()}
        # For /metrics' jobsvc_oldest_running_seconds: when the longest-running try started.
        info["oldest_started_ms"] = min((c.started_ms for c in self._running.values()), default=0)
        await heartbeat.beat(
            self.pool, self.worker_id, self.queue_name, self.settings.heartbeat_s, info
        )

    async def _flush_stats(self) -> None:
        await self.stats.flush(self.pool)

    async def _drain(self) -> None:
        """After the claim loop: let running tries finish within the grace, then re-queue."""
        tasks = [c.task for c in self._running.values() if c.task]
        if not tasks:
            return
        grace = self.settings.shutdown_grace_s if self._stopping.is_set() else None
        # asyncio.wait does not cancel what it waits for: cancelling `finished` leaves the
        # tries running until they are cancelled below, each with its reason.
        finished = asyncio.ensure_future(asyncio.wait(tasks))
        hurry = asyncio.ensure_future(self._hurry.wait())
        try:
            await asyncio.wait([finished, hurry], timeout=grace, return_when="FIRST_COMPLETED")
        finally:
            finished.cancel()
            hurry.cancel()
        for job_id in [c.job_id for c in self._running.values()]:
            self._cancel(job_id, "shutdown")
        pending = [t for t in tasks if not t.done()]
        if pending:
            await asyncio.wait(pending)


def __getattr__(name: str) -> Any:
    # Built on first access, not at import: settings are read lazily (`arq` imports us).
    if name == "WorkerSettings":
        return stock_worker_settings()
    raise AttributeError(name)
