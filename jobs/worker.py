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
from jobs.finisher import Finisher, Settle
from jobs.registry import load_catalog
from jobs.scheduler import run_schedules
from jobs.serialization import deserialize, serialize
from jobs.stats import JobStats
from jobs.stock import stock_worker_settings
from settings import Settings, get_settings

logger = logging.getLogger("jobs.worker")


def _ms() -> int:
    return int(time.time() * 1000)


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
        self.catalog = {
            name: spec
            for name, spec in load_catalog(settings).items()
            if spec.queue == settings.queue_name
        }
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
        self._slot_free = asyncio.Event()
        self._finisher = Finisher(self.pool, self.queue_name, lambda: bool(self._running))
        self._lease_ms = int(settings.lease_s * 1000)
        self.stats = JobStats()  # for /metrics: see jobs/stats.py
        self._attempts = Attempts(
            settings, self.catalog, self.queue_name, self.ctx, self.stats, self._wake_later
        )
        self.counts = self._attempts.counts

    # --- lifecycle -------------------------------------------------------------------------

    def stop(self) -> None:
        """Take no new job; running ones get `shutdown_grace_s` (called on SIGTERM/SIGINT)."""
        if not self._stopping.is_set():
            logger.info("stopping: %d jobs running", len(self._running))
            self._stopping.set()
            self._slot_free.set()  # wakes a claim loop waiting for capacity

    async def main(self) -> None:
        if self._install_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        self.ctx.update(redis=self.pool, worker_id=self.worker_id, settings=self.settings)
        if self.on_startup:
            await self.on_startup(self.ctx)
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
        schedules = schedules_for(self.catalog)
        if schedules and self.settings.cron_enabled and not self.burst:
            background.append(
                asyncio.create_task(
                    run_schedules(self.pool, schedules, self.catalog, self.settings)
                )
            )
        try:
            await self._heartbeat()
            await self._claim_loop()
            await self._drain()
            await self._finisher.flushed()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            with contextlib.suppress(RedisError):
                await self._flush_stats()
            with contextlib.suppress(RedisError):
                await heartbeat.leave(self.pool, self.worker_id)
            if self.on_shutdown:
                await self.on_shutdown(self.ctx)
            logger.info("worker %s stopped: %s", self.worker_id, self.counts)

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
        reply = await lua.script("claim")(self.pool, [self.queue_name], self._claim_args(limit))
        return self._start_claimed(reply)

    def _claim_args(self, limit: int) -> list[Any]:
        return [self._lease_ms, limit, self.worker_id]

    def _start_claimed(self, reply: list[Any]) -> int | None:
        if len(reply) == 2:
            return int(float(reply[0])) if reply[0] else 0
        # claim.lua's lease token is "{worker}|{its now}": the same here, or every renewal
        # would find a different token and cancel the job as "lost".
        now = int(reply[1])
        token = f"{self.worker_id}|{now}"
        for i in range(2, len(reply), 3):
            job_id = reply[i].decode()
            raw = reply[i + 1]
            claimed = Claimed(
                job_id=job_id,
                definition=deserialize(raw) if raw else None,
                tries=int(reply[i + 2]),
                token=token,
                started_ms=now,
            )
            self._running[job_id] = claimed
            self.stats.picked_up(claimed.tries, (claimed.definition or {}).get("et"), now)
            claimed.task = asyncio.create_task(self._run(claimed))
        return None

    async def _wait_then_claim(self, timeout_s: float, limit: int) -> None:
        """Block until a producer pushes a wake token (or `timeout_s` passes), then claim.

        Both go in one pipeline: Redis runs the claim the moment BLPOP returns, so a job
        enqueued to an idle worker starts after one round trip, not two.
        """
        script = lua.script("claim")
        try:
            async with self.pool.pipeline(transaction=False) as pipe:
                pipe.blpop([keys.wake(self.queue_name)], timeout=timeout_s)  # type: ignore[arg-type]
                pipe.evalsha(script.sha, 1, self.queue_name, *self._claim_args(limit))
                _, reply = await pipe.execute(raise_on_error=False)
            if isinstance(reply, Exception):  # e.g. NOSCRIPT after a Redis restart
                await self._claim(limit)
            else:
                self._start_claimed(reply)
        except RedisError as exc:
            logger.warning("waiting for work failed: %s", exc)
            await asyncio.sleep(min(timeout_s, 1.0))

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
        args: list[Any] = [_ms(), self._lease_ms, keys.IN_PROGRESS]
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
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for job_id in [c.job_id for c in self._running.values()]:
            self._cancel(job_id, "shutdown")
        if pending:
            await asyncio.wait(pending)


def __getattr__(name: str) -> Any:
    # Built on first access, not at import: settings are read lazily (`arq` imports us).
    if name == "WorkerSettings":
        return stock_worker_settings()
    raise AttributeError(name)
