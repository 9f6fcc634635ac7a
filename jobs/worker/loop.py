"""The worker (`python -m jobs`): claims jobs from its queues, runs them, settles them.

- serves several queues, in strict or weighted order (`WORKER_QUEUES`, see
`jobs.worker.queue_order`);
- wakes on enqueue (BLPOP on the queues' wake lists), polls only as a fallback;
- claims ready jobs in batches, one script call per queue; each claim is a lease it renews;
  runs each try in a slot of its own (`jobs.worker.capacity`), at most `WORKER_CONCURRENCY` at once;
  while the queue is deep it claims once a batch of slots is free (or after a short linger),
  not once per finished try;
- settles finished tries in batched script calls, fenced by their lease tokens (`Finisher`);
- retries any retryable exception with backoff and jitter;
- on SIGTERM takes no new job, lets running ones finish within a grace period, re-queues the
  rest without counting the try (a second signal skips the grace);
- runs cron ticks exactly once across workers.

It keeps ARQ's job format and `ctx` (so ARQ-style jobs run) but not ARQ's worker: a stock
`arq` worker cannot honour leases, fencing, priorities or pauses, so `WorkerSettings` remains
only for `arq --check` (see `jobs/worker/arq_check.py`).
"""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

from jobs import tracing
from jobs.cron.runner import run_schedules
from jobs.cron.schedules import enabled, schedules_for
from jobs.declare.registry import load_catalog
from jobs.declare.worker_lifespan import LIFESPANS
from jobs.graph.waiting_queues import sweep_every_queue
from jobs.layout import encryption
from jobs.layout.connection import RedisClient, create_redis, is_cluster
from jobs.layout.eviction import warn_unless_safe
from jobs.layout.keys import DEFAULT_QUEUE, QueueKeys, of_job
from jobs.layout.migrate import migrate_queue
from jobs.layout.records import JobDefinition
from jobs.reading.stats import JobStats
from jobs.settings import Settings, get_settings
from jobs.worker import heartbeat, leases
from jobs.worker.attempt import Attempts, Claimed
from jobs.worker.capacity import Slots
from jobs.worker.claim import Claimer, Claims
from jobs.worker.deadlines import Deadlines
from jobs.worker.processes import ChildPool
from jobs.worker.queue_order import REFRESH_S, ServedQueues, registered_queues
from jobs.worker.settle import Finisher, Settle
from jobs.worker.threads import ThreadRunner
from jobs.worker.watchdog import Watchdog, threshold_for

logger = logging.getLogger("jobs.worker")


def _ms() -> int:
    return int(time.time() * 1000)


CLAIM_LINGER_S = 0.005
"""While the queue is deep and few slots are free, how long a claim waits for more to free
(`jobs.worker.capacity`): under load one claim takes many jobs, not one per finished try."""

SETTLE_AT_EXIT_S = 3.0
"""At shutdown, how long to keep trying to store outcomes once the grace is over (Redis may be
gone: an unsettled try runs again after its lease, so the worker exits rather than hang)."""


class Worker:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        burst: bool = False,
        redis: RedisClient | None = None,
        handle_signals: bool = True,
    ) -> None:
        self.settings = settings = settings or get_settings()
        encryption.install(settings.keyring())  # what it writes is sealed with these keys
        # Every declared job: a job may be enqueued on any queue (an override, or a stock ARQ
        # producer), and the worker must run it, not fail it as unknown.
        self.catalog = load_catalog(settings)
        self.schedules = schedules_for(self.catalog)  # raises on a schedule of an unknown job
        self.served = ServedQueues.parse(settings.worker_queues, settings.queue_name)
        self.worker_id = heartbeat.new_worker_id()
        self.pool: RedisClient = redis or create_redis(settings)
        self.burst = burst
        self.max_jobs = settings.worker_concurrency
        self.ctx: dict[str, Any] = {}
        """ARQ's ctx: the worker's resources (`jobs.declare.worker_lifespan`); each try gets a copy
        plus its own keys."""
        self._install_signals = handle_signals
        self.slots = Slots(self.max_jobs, self._run_traced if tracing.enabled() else self._run)
        self._stopping = asyncio.Event()
        self._hurry = asyncio.Event()
        """A second SIGTERM/SIGINT: stop waiting for running jobs."""
        legacy = not is_cluster(settings)
        self._lease_ms = int(settings.lease_s * 1000)
        self._claimer = Claimer(self.pool, self.worker_id, self.served, self._lease_ms, legacy)
        self.stats = JobStats()  # for /metrics: see jobs/reading/stats.py
        self._finisher = Finisher(
            self.pool, legacy, lambda: bool(self.slots.running), self._lease_ms, self.stats
        )
        deadlines = Deadlines(lambda job_id: self.slots.cancel(job_id, "timeout"))
        self.threads = ThreadRunner(settings.worker_threads)
        self.processes = ChildPool(settings.worker_processes, settings.job_modules)
        self._attempts = Attempts(
            settings,
            self.catalog,
            self.ctx,
            self._wake_later,
            deadlines,
            self.threads,
            self.processes,
        )
        self.counts = self._finisher.counts
        self.watchdog = Watchdog(threshold_for(settings.lease_s), self.slots.running.values)
        self._stalls_flushed = (0, 0.0)
        """Outcomes stored since start (a refused one, its lease lost, counts nothing)."""

    # --- lifecycle -------------------------------------------------------------------------

    def stop(self) -> None:
        """Take no new job; running ones get `shutdown_grace_s` (called on SIGTERM/SIGINT).

        A second call stops waiting: running jobs are re-queued at once."""
        if not self._stopping.is_set():
            logger.info("stopping: %d jobs running", len(self.slots.running))
            self._stopping.set()
            self.slots.wake()  # wakes a claim loop waiting for capacity
        elif not self._hurry.is_set():
            logger.info("stopping now: re-queueing %d running jobs", len(self.slots.running))
            self._hurry.set()

    async def main(self) -> None:
        if self._install_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        self.ctx.update(redis=self.pool, worker_id=self.worker_id, settings=self.settings)
        async with contextlib.AsyncExitStack() as resources:
            for lifespan in LIFESPANS:  # declared by job modules: shared clients for the jobs
                await resources.enter_async_context(lifespan(self.ctx))
            await self._serve()

    async def _serve(self) -> None:
        await warn_unless_safe(self.pool)  # definitions carry TTLs: eviction drops jobs
        if not is_cluster(self.settings):
            try:
                for q in self.served.queues:
                    await migrate_queue(self.pool, q.name)
            except RedisError as exc:  # Redis away at start: the claim loop waits for it
                logger.warning("could not look for jobs of the ARQ single-queue layout: %s", exc)
        logger.info(
            "worker %s started: queues %s, %d jobs, concurrency %d",
            self.worker_id,
            self.served.describe(),
            len(self.catalog),
            self.max_jobs,
        )
        background = [
            asyncio.create_task(self._finisher.run(), name="finisher"),
            asyncio.create_task(self._every(self.settings.lease_s / 3, self._renew_leases)),
            asyncio.create_task(self._every(0.2, self._watch_aborts)),
            asyncio.create_task(self._every(self.settings.heartbeat_s, self._heartbeat)),
            asyncio.create_task(self._every(1.0, self._flush_stats)),
            asyncio.create_task(
                self._every(self.settings.dependency_sweep_s / 2, self._sweep_waiting)
            ),
        ]
        if self.served.every:
            background.append(asyncio.create_task(self._every(REFRESH_S, self._refresh_queues)))
        schedules = enabled(
            self.schedules,
            housekeeping=self.settings.housekeeping,
            application=self.settings.cron_enabled,
        )
        stored_schedules = self.settings.cron_enabled  # those made over the API
        if (schedules or stored_schedules) and not self.burst:
            background.append(
                asyncio.create_task(
                    run_schedules(
                        self.pool,
                        schedules,
                        self.catalog,
                        self.settings,
                        stored_schedules=stored_schedules,
                    )
                )
            )
        self.watchdog.start()
        try:
            with contextlib.suppress(RedisError):  # Redis away at start: beats resume later
                await self._refresh_queues()
                await self._heartbeat()
            await self._claim_loop()
            await self._drain()
            await self._settle_remaining()
        finally:
            self.watchdog.stop()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            self.threads.shutdown()
            await self.processes.close()
            # Redis may be gone: each goodbye gets a short bound, so the process always ends.
            with contextlib.suppress(RedisError, TimeoutError):
                await asyncio.wait_for(self._flush_stats(), 1.0)
            with contextlib.suppress(RedisError, TimeoutError):
                await asyncio.wait_for(heartbeat.leave(self.pool, self.worker_id), 1.0)
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

    async def _every(self, interval_s: float, action: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await action()
            except RedisError as exc:
                logger.warning("%s failed: %s", getattr(action, "__name__", action), exc)

    # --- claiming --------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        failures = 0
        batch = self.settings.claim_batch
        refill = max(1, min(batch, self.max_jobs) // 2)
        deep = False
        """The last claim took all it asked for: more jobs are likely ready."""
        while not self._stopping.is_set():
            if self.slots.free < (refill if deep else 1):
                await self.slots.room(refill if deep else 1, CLAIM_LINGER_S)
                if self.slots.free <= 0:
                    continue  # woken by stop()
            limit = min(self.slots.free, batch)
            settled_before = self._finisher.batches
            try:
                claims = await self._claimer.claim(limit)
                failures = 0
            except RedisError as exc:
                failures += 1
                logger.warning("claim failed (Redis unreachable?): %s", exc)
                await self._first(self._stopping.wait(), min(0.1 * 2**failures, 5.0))
                continue
            deep = len(claims.jobs) >= limit
            if self._start(claims):
                continue  # took something: look for more straight away
            due_in_s = claims.due_in_s()
            if self.burst and self._burst_done(due_in_s):
                # A retry settled since the claim was sent may be about to come due.
                if self._finisher.busy or self._finisher.batches != settled_before:
                    await self._finisher.flushed()
                    continue
                return
            wait_s = self.settings.poll_fallback_s
            if due_in_s is not None:
                wait_s = min(wait_s, due_in_s)
            if self.burst and self.slots.running:
                await self.slots.one_ends(wait_s)
            elif wait_s > 0.005:
                await self._first(self._wait_then_claim(wait_s, limit), None)

    async def _wait_then_claim(self, timeout_s: float, limit: int) -> None:
        try:
            self._start(await self._claimer.wait_then_claim(timeout_s, limit))
        except RedisError as exc:
            logger.warning("waiting for work failed: %s", exc)
            await self._first(self._hurry.wait(), min(timeout_s, 1.0))

    def _start(self, claims: Claims) -> bool:
        """Start a task per claimed try; True if anything was claimed."""
        self.slots.start(claims.jobs)
        return bool(claims.jobs)

    async def _first(self, awaitable: Awaitable[Any], timeout_s: float | None) -> None:
        """Wait for `awaitable`, a stop request, or the timeout, whichever comes first."""
        waiter = asyncio.ensure_future(awaitable)
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({waiter, stopping}, timeout=timeout_s, return_when="FIRST_COMPLETED")
        finally:
            for f in (waiter, stopping):
                f.cancel()

    def _burst_done(self, due_in_s: float | None) -> bool:
        """Burst mode ends when nothing runs and nothing comes due within the poll fallback."""
        if self.slots.running:
            return False
        return due_in_s is None or due_in_s > self.settings.poll_fallback_s

    # --- running one try -------------------------------------------------------------------

    async def _run(self, claimed: Claimed) -> Settle | None:
        """The task of one try (`Slots` frees its slot once this returns); its outcome, None
        if it lost its lease (another worker owns the job now)."""
        settle: Settle | None
        try:
            if claimed.after is not None:
                await self._after_stale_try(claimed)
            if claimed.cancel_reason is None:
                d = claimed.definition
                if isinstance(d, JobDefinition):
                    self.stats.picked_up(claimed.tries, d.enqueued_ms, claimed.started_ms)
                    if claimed.due_ms:
                        lateness_ms = claimed.started_ms - claimed.due_ms
                        self.stats.started_late(d.queue or DEFAULT_QUEUE, lateness_ms)
                settle = await self._attempts.run(claimed)
            else:  # claimed with an abort request (claim.lua): settled without running
                settle = self._attempts.cancelled(claimed)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if claimed.cancel_reason is None or task is None:
                raise
            task.uncancel()
            settle = self._attempts.cancelled(claimed)
        if settle is not None:
            self._finisher.submit(settle, claimed.name, _ms() - claimed.started_ms)
        return settle

    async def _run_traced(self, claimed: Claimed) -> Settle | None:
        """`_run` in a span of its own, in the trace its enqueue stored (`jobs.tracing`): the
        task of a try while tracing is on (chosen once, so a worker without it pays nothing)."""
        d = claimed.definition
        parent = d.trace if isinstance(d, JobDefinition) else None
        queue = of_job(claimed.job_id).name
        current = tracing.start_try(claimed.job_id, claimed.name, queue, claimed.tries, parent)
        settle, outcome, delay = None, "cancelled", None
        try:
            settle = await self._run(claimed)
            outcome = "lease_lost" if settle is None else settle.kind
            if settle is not None and settle.kind == "retry" and isinstance(settle.a, int):
                delay = settle.a
        finally:
            tracing.end_try(current, outcome, delay, claimed.cancel_reason)
        return settle

    async def _after_stale_try(self, claimed: Claimed) -> None:
        """Wait for the stale try of the same job to end (cancelled as "lost": it ends at its
        next await). One that ignores its cancellation for a whole lease does not hold the
        new try back any longer (its outcome is fenced off: it can store nothing)."""
        stale, claimed.after = claimed.after, None
        if stale is None or stale.done():
            return
        _, pending = await asyncio.wait((stale,), timeout=self.settings.lease_s)
        if pending:
            logger.warning(
                "a try that lost its lease ignores its cancellation: starting the new try",
                extra={"job_id": claimed.job_id, "job": claimed.name, "try": claimed.tries},
            )

    # --- background duties -----------------------------------------------------------------

    async def _renew_leases(self) -> None:
        held = {claimed.job_id: claimed for claimed in self.slots.running.values()}
        for job_id in await leases.renew(self.pool, held.values(), self._lease_ms):
            if self.slots.running.get(job_id) is not held[job_id]:
                # Finished while the renewal was on the wire (its lease went with it), or a
                # newer try of the job took its place: that one holds its own lease.
                continue
            logger.warning(
                "lease lost: cancelling this try (the lease ran out; another worker may hold "
                "the job now)",
                extra={"job_id": job_id},
            )
            self.slots.cancel(job_id, "lost")

    async def _watch_aborts(self) -> None:
        for job_id in await leases.abort_requests(self.pool, list(self.slots.running.values())):
            self.slots.cancel(job_id, "abort")

    def _wake_later(self, job_id: str, delay_s: float) -> None:
        """Push a wake token when a retry comes due, so no worker sleeps through it."""
        if delay_s < self.settings.poll_fallback_s:
            asyncio.get_running_loop().call_later(delay_s, self._push_wake, of_job(job_id))

    def _push_wake(self, q: QueueKeys) -> None:
        task = asyncio.ensure_future(self.pool.lpush(q.wake, "1"))  # type: ignore[arg-type]
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _heartbeat(self) -> None:
        info: dict[str, Any] = {
            "running": len(self.slots.running),
            **self.counts,
            "stopping": self._stopping.is_set(),
            "queues": self.served.names(),
            "running_by_queue": {q.name: len(c) for q, c in self.slots.by_queue().items()},
            # For /metrics' jobsvc_oldest_running_seconds: when the longest-running try began.
            "oldest_started_ms": self.slots.oldest_started_ms(),
            # `def` jobs' threads still running past their try's end (they cannot be killed)
            "threads_abandoned": self.threads.abandoned,
            "child_processes_started": self.processes.started,
        }
        await heartbeat.beat(
            self.pool, self.worker_id, self.served.queues, self.settings.heartbeat_s, info
        )

    async def _refresh_queues(self) -> None:
        """`WORKER_QUEUES=*`: serve the queues the registry names now (one created since is
        served from here on)."""
        if not self.served.every:
            return
        served = self.served.with_registered(await registered_queues(self.pool))
        if served.queues != self.served.queues:
            added = {q.name for q in served.queues} - {q.name for q in self.served.queues}
            logger.info("serving queues %s", ", ".join(sorted(added)) or "(fewer)")
            self.served = served
            self._claimer.serve(served)

    async def _sweep_waiting(self) -> None:
        """Jobs waiting for parents, on every queue that has some (served or not): release
        what a crash may have left unreleased, forget what expired."""
        await sweep_every_queue(
            self.pool, [q.name for q in self.served.queues], self.worker_id, self.settings
        )

    async def _flush_stats(self) -> None:
        stalls, stalled_s = self.watchdog.stalls, self.watchdog.stalled_s
        before, self._stalls_flushed = self._stalls_flushed, (stalls, stalled_s)
        self.stats.loop_stalled(stalls - before[0], round((stalled_s - before[1]) * 1000))
        await self.stats.flush(self.pool)

    async def _drain(self) -> None:
        """After the claim loop: let running tries finish within the grace, then re-queue."""
        grace = self.settings.shutdown_grace_s if self._stopping.is_set() else None
        await self.slots.wind_down(grace, self._hurry)
