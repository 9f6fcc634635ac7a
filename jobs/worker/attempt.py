"""One try of a claimed job, and how it settles: complete, retry later, fail, abort, re-queue.

The worker (`jobs/worker/loop.py`) owns claiming, leases and concurrency; this module owns what
happens between "this worker holds the lease" and "this is what to write back". A job whose
definition cannot be decoded or whose input fails its model settles as failed at once
(`UndecodableJob`, `InvalidInput`): its content never reaches the worker's own code paths, and
nothing is ever unpickled. A job this worker does not know is put back for a worker that does
(a rolling deploy) until `UNKNOWN_JOB_GRACE_S` after its enqueue, then fails (`UnknownJob`).
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from arq.worker import Retry
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError

from jobs import tracing
from jobs.declare.job_errors import Aborted, JobTimeout
from jobs.declare.registry import JobSpec
from jobs.declare.steps import Suspend
from jobs.graph import dependencies
from jobs.graph.dependencies import ParentOutcomes
from jobs.layout import encryption
from jobs.layout.encryption import EncryptionError
from jobs.layout.records import JobDefinition, Poison, result_data
from jobs.layout.serialization import error_info, serialize
from jobs.logs import line
from jobs.settings import Settings
from jobs.worker.backoff import backoff_s
from jobs.worker.deadlines import Deadlines
from jobs.worker.processes import ChildPool
from jobs.worker.settle import FinalKind, Settle
from jobs.worker.threads import ThreadRunner

logger = logging.getLogger("jobs.worker")

UNKNOWN_JOB_DELAY_MS = 5000
"""How long a job this worker does not know is put back for (`Attempts._unknown`): long enough
that a worker that knows it most likely claims it next, short enough not to delay it much."""


@dataclass(slots=True)
class Claimed:
    """A try this worker holds the lease on."""

    job_id: str
    definition: JobDefinition | Poison | None
    """None: the definition expired before the try started."""
    tries: int
    token: str
    started_ms: int
    """The server's clock when the claim ran."""
    due_ms: int = 0
    """When it came due (enqueued, deferred to, retried at, or its last lease's end); 0:
    unknown (a recovered claim)."""
    task: "asyncio.Task[None] | None" = None
    cancel_reason: str | None = None
    """Why the worker cancelled it: "timeout" (its job's), "abort", "shutdown" or "lost"
    (lease); "abort" from the claim itself: it settles aborted without running."""
    began: bool = False
    """Its task has taken its first step (`jobs.worker.capacity`)."""
    after: "asyncio.Task[None] | None" = None
    """A stale try of the same job still ending in this worker: this one waits for it."""
    steps: list[str] = field(default_factory=list)
    """The durable steps it ran or replayed (`ctx.step`), for its final record."""

    @property
    def name(self) -> str:
        return self.definition.function if isinstance(self.definition, JobDefinition) else "?"


Admitted = tuple[JobSpec, BaseModel, JobDefinition]
"""A claimed try that may run: its job, its validated input, its definition (a plain tuple:
one per try, on the worker's hottest path)."""


class Attempts:
    def __init__(
        self,
        settings: Settings,
        catalog: dict[str, JobSpec],
        ctx: dict[str, Any],
        wake_later: Callable[[str, float], None],
        deadlines: Deadlines,
        threads: ThreadRunner,
        processes: ChildPool,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.ctx = ctx
        """The worker's ctx (resources from `jobs.declare.worker_lifespan`); each try gets a copy,
        plus its own keys."""
        self._wake_later = wake_later
        self._deadlines = deadlines
        """Cuts a try off at its job's timeout: the worker then settles it as `cancelled`."""
        self._threads = threads
        self._processes = processes

    async def run(self, claimed: Claimed) -> Settle | None:
        """Run one try; never raises but CancelledError (timeout, abort, shutdown, lost lease).
        None: nothing to settle (the job is final already: this try's lease is gone)."""
        admitted = self._admit(claimed)
        if isinstance(admitted, Settle):
            return admitted
        spec, payload, definition = admitted
        parents: ParentOutcomes | None = None
        if definition.has_parents:
            outcomes = await self._parents(claimed, spec)
            if outcomes is None or isinstance(outcomes, Settle):
                return outcomes
            parents = outcomes
        if claimed.tries > spec.max_tries:
            message = f"gave up after {spec.max_tries} tries (the last one did not finish)"
            # This claim runs nothing: the record counts the tries that could run, not this
            # one, nor earlier claims past the last try whose settle a stalled loop lost.
            gave_up = Poison("MaxTriesExceeded", message)
            return self._rejected(claimed, spec, gave_up, started=False, tries=spec.max_tries)
        ctx = {
            **self.ctx,
            "job_id": claimed.job_id,
            "job_try": claimed.tries,
            "lease_token": claimed.token,
            "enqueue_time": datetime.fromtimestamp(definition.enqueued_ms / 1000, tz=UTC),
            "score": claimed.started_ms,
            "steps": claimed.steps,
        }
        if parents is not None:  # ARQ's ctx, and what a job that waited learns of its parents
            ctx["parent_results"] = parents.results
            ctx["parent_failures"] = parents.failures
            ctx["parent_statuses"] = parents.statuses
            ctx["batch"] = parents.batch_summary()
        log = logger.isEnabledFor(logging.INFO)
        if log:  # two lines per job: the cheap way (`jobs.logs.line`)
            line(logger, logging.INFO, "job started", _log_fields(claimed, spec))
        run_in = spec.run_in

        def deadline_from_now() -> None:
            self._deadlines.watch(claimed.job_id, spec.timeout_s)

        if run_in != "process":
            deadline_from_now()
        try:
            if run_in == "loop":
                output = await spec.call(ctx, payload)
            elif run_in == "thread":
                output = await self._threads.run(spec, ctx, payload)
            else:  # its timeout counts from its child's readiness, not the child's start-up
                output = await self._processes.run(spec, ctx, payload, deadline_from_now)
        except Suspend as suspended:  # ctx.sleep / ctx.wait_for_signal: back later, no try
            if log:
                fields = {**_log_fields(claimed, spec), "resume_in_s": suspended.delay_ms / 1000}
                line(logger, logging.INFO, "job suspended", fields)
            return Settle.suspend(
                claimed.job_id, claimed.token, suspended.delay_ms, suspended.signal
            )
        except Exception as e:
            return self._failed_try(claimed, spec, e)
        finally:
            self._deadlines.unwatch(claimed.job_id)
        if log:
            line(logger, logging.INFO, "job complete", _log_fields(claimed, spec, duration=True))
        return self._final(claimed, "complete", output, spec)

    def _admit(self, claimed: Claimed) -> Admitted | Settle:
        """What the try runs, or how it settles without running: an undecodable or expired
        definition, an unknown job, invalid input. (Not a coroutine: one per try.)"""
        d = claimed.definition
        if d is None:
            return self._rejected(claimed, None, Poison("JobExpired", "job definition expired"))
        if isinstance(d, Poison):
            if d.type == "UnknownEncryptionKey":
                return self._sealed_elsewhere(claimed, d)
            return self._rejected(claimed, None, d)
        spec = self.catalog.get(d.function)
        if spec is None:
            return self._unknown(claimed, d)
        try:
            payload = spec.parse_input(d.args, d.kwargs)
        except ValidationError as invalid:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}"
                for e in invalid.errors(include_url=False)
            )
            message = f"input does not match {spec.input_model.__name__}: {problems}"
            return self._rejected(claimed, spec, Poison("InvalidInput", message))
        if d.expires_ms is not None and claimed.started_ms > d.expires_ms:
            when = datetime.fromtimestamp(d.expires_ms / 1000, UTC).isoformat()
            expired = Poison("Expired", f"not started by its expiry ({when}): it never will")
            return self._rejected(claimed, spec, expired, started=False)
        return spec, payload, d

    def _unknown(self, claimed: Claimed, d: JobDefinition) -> Settle:
        """A job this worker's catalog lacks. During a rolling deploy a worker of the previous
        release claims jobs only the new release declares (Sidekiq retries an unknown class
        too): put it back for a worker that knows it, the try not counted, until
        `unknown_job_grace_s` after its enqueue (both times the server's); then fail it."""
        grace_ms = int(self.settings.unknown_job_grace_s * 1000)
        left_ms = d.enqueued_ms + grace_ms - claimed.started_ms
        if left_ms <= 0:
            message = f"no job named {d.function!r}"
            if grace_ms:
                message += f" (no worker that knows it claimed it within {grace_ms / 1000:g} s)"
            return self._rejected(claimed, None, Poison("UnknownJob", message))
        delay_ms = min(UNKNOWN_JOB_DELAY_MS, left_ms)  # the last put-back ends with the grace
        self._wake_later(claimed.job_id, delay_ms / 1000)
        logger.info(
            "job unknown to this worker: put back for a worker that knows it",
            extra={**_log_fields(claimed, None), "retry_in_s": delay_ms / 1000},
        )
        return Settle.defer(claimed.job_id, claimed.token, delay_ms, d.function)

    def _sealed_elsewhere(self, claimed: Claimed, poison: Poison) -> Settle:
        """A job sealed with a key this worker lacks (ENCRYPTION_KEYS misses it, or is unset):
        failing it would lose it for good, so it goes back, the try not counted, for a worker
        that holds the key; the log names the key id, and nothing of the job is rewritten."""
        self._wake_later(claimed.job_id, UNKNOWN_JOB_DELAY_MS / 1000)
        logger.error(
            "job put back: %s",
            poison.message,
            extra={**_log_fields(claimed, None), "retry_in_s": UNKNOWN_JOB_DELAY_MS / 1000},
        )
        return Settle.defer(
            claimed.job_id, claimed.token, UNKNOWN_JOB_DELAY_MS, "(encryption key missing)"
        )

    async def _parents(self, claimed: Claimed, spec: JobSpec) -> ParentOutcomes | Settle | None:
        """The outcomes of the parents a job waited for, or how it settles: failed, when one
        did not complete and it asked for `fail`; a failed try, when they cannot be read; not
        at all (None), when the job is final already: this try's lease is long gone."""
        try:
            parents = await dependencies.parent_outcomes(
                self.ctx["redis"], claimed.job_id, results=True
            )
        except (RedisError, EncryptionError) as unreadable:  # a failed try, retried shortly
            return self._failed_try(claimed, spec, unreadable)
        if parents.gone:
            logger.warning(
                "lease lost: not running this try (its job is final already; this worker "
                "was stalled past the lease between the claim and the start)",
                extra=_log_fields(claimed, spec),
            )
            return None
        failed = parents.first_failed
        if failed is not None and parents.on_failure == "fail":
            status = parents.statuses[failed]
            message = f"parent {failed} did not complete ({status})"
            return self._rejected(claimed, spec, Poison("ParentFailed", message), started=False)
        return parents

    def _rejected(
        self,
        claimed: Claimed,
        spec: JobSpec | None,
        poison: Poison,
        *,
        started: bool = True,
        tries: int | None = None,
    ) -> Settle:
        """Settled without running: nothing about this try could ever succeed. `started`:
        False when this claim must read as not started (the job expired before it could).
        `tries`: what the record counts, when not this claim's number (it has used up its
        tries: this claim is not one)."""
        logger.warning("job failed", extra=_log_fields(claimed, spec, error=poison.error()))
        return self._final(claimed, "failed", poison.error(), started=started, tries=tries)

    def _failed_try(self, claimed: Claimed, spec: JobSpec, exc: Exception) -> Settle:
        tracing.job_error(exc)
        retryable = isinstance(exc, Retry) or spec.is_retryable(exc)
        info = error_info(exc, retryable=retryable)
        fields = _log_fields(claimed, spec, duration=True, error=info)
        if retryable and claimed.tries < spec.max_tries:
            if isinstance(exc, Retry) and exc.defer_score is not None:
                delay_ms = int(exc.defer_score)
            else:
                delay_ms = int(
                    backoff_s(claimed.tries, spec.backoff_base_s, spec.backoff_max_s) * 1000
                )
            self._wake_later(claimed.job_id, delay_ms / 1000)
            logger.info("job retrying", extra={**fields, "retry_in_s": delay_ms / 1000})
            sealed = encryption.seal_bytes(serialize(info))
            return Settle.retry(claimed.job_id, claimed.token, delay_ms, sealed)
        logger.warning("job failed", extra=fields)
        # Final: the stored error says no retry will follow, whatever the exception's kind.
        return self._final(claimed, "failed", {**info, "retryable": False})

    def cancelled(self, claimed: Claimed) -> Settle | None:
        """How a try the worker cancelled settles."""
        reason = claimed.cancel_reason
        if reason == "timeout":
            spec = self.catalog[claimed.name]  # only a try that ran its job has a deadline
            timed_out = JobTimeout(f"timed out after {spec.timeout_s:g} s")
            return self._failed_try(claimed, spec, timed_out)
        if reason == "abort":
            logger.info("job aborted", extra=_log_fields(claimed, None, duration=True))
            return self._final(claimed, "aborted", error_info(Aborted("aborted on request")))
        if reason == "shutdown":
            logger.info("job re-queued at shutdown", extra=_log_fields(claimed, None))
            return Settle.requeue(claimed.job_id, claimed.token)
        return None  # lease lost: another worker owns the job now; write nothing

    def _final(
        self,
        claimed: Claimed,
        status: FinalKind,
        result: Any,
        spec: JobSpec | None = None,
        *,
        started: bool = True,
        tries: int | None = None,
    ) -> Settle:
        d = claimed.definition if isinstance(claimed.definition, JobDefinition) else None
        if tries is None:
            tries = claimed.tries if started else claimed.tries - 1
        ttl_s: float = self.settings.failed_ttl_s
        keep_none = False
        if status == "complete":
            ttl_s = spec.keep_result_s if spec else self.settings.result_ttl_s
            keep_none = ttl_s <= 0
            if keep_none:  # fire and forget: the final status stays readable briefly
                ttl_s = self.settings.result_grace_s
        data = result_data(
            name=d.function if d else "",
            args=d.args if d else [],
            kwargs=d.kwargs if d else {},
            tries=tries,
            enqueued_ms=d.enqueued_ms if d else 0,
            status=status,
            result=result,
            started_ms=claimed.started_ms if started else None,
            worker=self.ctx.get("worker_id") if started else None,
            priority=d.priority if d else 0,
            steps=claimed.steps,
            trace=d.trace if d else None,
        )
        ttl_ms = max(int(ttl_s * 1000), 1)
        stock = d is not None and d.queue is None  # a stock ARQ producer's definition
        return Settle.final(status, claimed.job_id, claimed.token, data, ttl_ms, keep_none, stock)


def _log_fields(
    claimed: Claimed,
    spec: JobSpec | None,
    *,
    duration: bool = False,
    error: Any = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "job_id": claimed.job_id,
        "job": spec.name if spec else claimed.name,
        "try": claimed.tries,
    }
    if duration:
        fields["duration_s"] = round((time.time() * 1000 - claimed.started_ms) / 1000, 3)
    if error is not None:
        # With encryption on, a message may quote the job's data: the log keeps the type.
        sealed = encryption.active() is not None and isinstance(error, dict)
        fields["error"] = {**error, "message": "(encrypted)"} if sealed else error
    return fields
