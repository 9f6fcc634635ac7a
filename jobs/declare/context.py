"""What a running job gets as its context: `JobContext` in an `async def`, `SyncJobContext` in a
plain `def` (it runs in a thread or a child process, where blocking calls are the right ones)."""

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast, overload

import orjson

from jobs.declare import steps
from jobs.layout import encryption, keys, scripts
from jobs.layout.connection import RedisClient
from jobs.settings import Settings, get_settings

logger = logging.getLogger("jobs")
T = TypeVar("T")


@dataclass(slots=True)
class JobFacts:
    """What every try knows about itself, wherever it runs."""

    job_id: str
    name: str
    try_: int
    """This try, from 1."""
    max_tries: int
    enqueued_at: datetime | None
    worker_id: str
    extras: dict[str, Any] = field(default_factory=dict)
    """The worker's ctx: its resources from `jobs.declare.worker_lifespan` (shared clients;
    none in a child process)."""
    lease_token: str = ""
    """This try's lease (empty under a stock ARQ worker): progress is fenced by it."""
    parent_results: dict[str, Any] = field(default_factory=dict)
    """For a job enqueued `after` others: each completed parent's id -> its result (JSON)."""
    parent_failures: dict[str, Any] = field(default_factory=dict)
    """Parents that did not complete (`on_parent_failure="ignore"`): id -> {"status", "error"}."""
    parent_statuses: dict[str, str] = field(default_factory=dict)
    """Each parent's id -> its final status ("complete", "failed", "aborted", or "missing")."""
    batch: dict[str, Any] | None = None
    """For a batch's callback (`jobs.graph.batches`): {"id", "total", "complete", "failed",
    "aborted"} of its batch, final when the callback runs."""
    steps: list[str] = field(default_factory=list)
    """The durable steps this try ran or replayed, in order (`jobs.declare.steps`)."""
    sleeps: int = 0
    """Durable sleeps this try reached: the default name of the next one."""

    def resource(self, name: str) -> Any:
        """What a worker lifespan (`jobs.worker_lifespan`) put under `name`."""
        try:
            return self.extras[name]
        except KeyError:
            raise LookupError(
                f"no worker resource {name!r}: declare a @worker_lifespan (a job run in a "
                "child process has none)"
            ) from None

    @property
    def settings(self) -> Settings:
        """The worker's settings (stock ARQ workers, child processes: the environment's)."""
        settings = self.extras.get("settings")
        return settings if isinstance(settings, Settings) else get_settings()


@dataclass(slots=True)
class JobContext(JobFacts):
    """An `async def` job's context."""

    redis: RedisClient = field(kw_only=True)

    @classmethod
    def from_arq(cls, ctx: dict[str, Any], name: str, max_tries: int) -> "JobContext":
        """Build from ARQ's ctx dict, so that stock `arq` workers run our jobs too."""
        return cls(
            job_id=ctx.get("job_id", ""),
            name=name,
            try_=int(ctx.get("job_try", 1)),
            max_tries=max_tries,
            enqueued_at=ctx.get("enqueue_time"),
            redis=ctx["redis"],
            worker_id=str(ctx.get("worker_id", "arq")),
            extras=ctx,
            lease_token=str(ctx.get("lease_token", "")),
            parent_results=ctx.get("parent_results") or {},
            parent_failures=ctx.get("parent_failures") or {},
            parent_statuses=ctx.get("parent_statuses") or {},
            batch=ctx.get("batch"),
            steps=ctx.setdefault("steps", []),  # the worker reads it back for the record
        )

    async def progress(self, fraction: float, message: str = "") -> bool:
        """Record how far the job is (0..1) and tell watchers; visible in the JobView at once.

        False if this try no longer holds the job's lease (another worker runs it now)."""
        fraction = min(max(float(fraction), 0.0), 1.0)
        value = encryption.seal_bytes(orjson.dumps({"fraction": fraction, "message": message}))
        return await self._record("progress", value)

    @overload
    async def step(
        self, name: str, function: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any
    ) -> T: ...

    @overload
    async def step(
        self, name: str, function: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> T: ...

    async def step(
        self, name: str, function: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Any:
        """Run `function(*args, **kwargs)` once per job: its result is stored, and a later try
        returns it without running it again (`jobs.declare.steps`). A plain function runs in a
        thread. The result must be JSON-able through the function's return annotation."""
        steps.check_name(name)
        stored = await self.stored_step(name)
        if stored is not None:
            self.steps.append(name)
            return steps.decode(name, function, stored)
        result = await steps.run_async(function, args, kwargs)
        await self.record_step(name, steps.encode(name, function, result))
        return result

    async def sleep(self, seconds: float, *, name: str | None = None) -> None:
        """Durable sleep: end this try and resume the job `seconds` later (the server's clock),
        holding no slot meanwhile; the try does not count, and steps recorded before it replay.
        Once past, a later try goes straight on. `name`: unique in the job; by default the
        n-th sleep the job reaches (`1`, `2`, ...)."""
        if not 0 <= seconds <= steps.MAX_SUSPEND_S:
            raise ValueError(f"sleep: 0 to {steps.MAX_SUSPEND_S:g} s, not {seconds!r}")
        await self._sleep(name, lambda now_ms: now_ms + round(seconds * 1000))

    async def sleep_until(self, when: datetime, *, name: str | None = None) -> None:
        """`sleep` until `when` (an aware datetime)."""
        await self._sleep(name, lambda _: round(when.timestamp() * 1000))

    async def _sleep(self, name: str | None, wake_at: Callable[[int], int]) -> None:
        self.sleeps += 1
        label = steps.check_name(name or str(self.sleeps))
        (raw,) = await self._fields(steps.SLEEP + label)
        now = await self._server_ms()
        if raw is None:
            wake = wake_at(now)
            await self._record_or_stop(steps.SLEEP + label, str(wake).encode())
        else:
            wake = int(raw)
        if now < wake:
            raise steps.Suspend(wake - now)

    async def wait_for_signal(self, name: str, *, timeout: float) -> Any:  # noqa: ASYNC109
        """Park the job until `POST /jobs/{id}/signals/{name}` (or `send_signal`): this try
        ends without counting, the job is `waiting` and holds no slot, and the next try gets
        the signal's JSON body here. No signal within `timeout` seconds: `SignalTimeout`."""
        steps.check_name(name)
        if not 0 < timeout <= steps.MAX_SUSPEND_S:
            raise ValueError(f"timeout: up to {steps.MAX_SUSPEND_S:g} s, not {timeout!r}")
        body, deadline_raw = await self._fields(steps.SIGNAL + name, steps.SIGNAL_DEADLINE + name)
        if body is not None:
            return orjson.loads(encryption.open_bytes(body))
        now = await self._server_ms()
        if deadline_raw is None:
            deadline = now + round(timeout * 1000)
            await self._record_or_stop(steps.SIGNAL_DEADLINE + name, str(deadline).encode())
        else:
            deadline = int(deadline_raw)
        if now >= deadline:
            raise steps.SignalTimeout(f"no signal {name!r} came within {timeout:g} s")
        raise steps.Suspend(deadline - now, signal=name)

    async def _fields(self, *names: str) -> list[bytes | None]:
        state = keys.of_job(self.job_id).state(self.job_id)
        values: list[bytes | None] = await self.redis.hmget(state, list(names))  # type: ignore[misc]
        return values

    async def _server_ms(self) -> int:
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def _record_or_stop(self, state_field: str, value: bytes) -> None:
        if not await self._record(state_field, value):
            raise steps.StepNotRecorded(f"{state_field}: this try no longer holds the job's lease")

    async def stored_step(self, name: str) -> bytes | None:
        raw: bytes | None = await self.redis.hget(  # type: ignore[misc]
            keys.of_job(self.job_id).state(self.job_id), steps.FIELD + name
        )
        return raw

    async def record_step(self, name: str, value: bytes) -> None:
        await self._record_or_stop(steps.FIELD + name, value)
        self.steps.append(name)

    async def _record(self, state_field: str, value: bytes) -> bool:
        """Write a field of the job's state, fenced by this try's lease (`progress.lua`)."""
        q = keys.of_job(self.job_id)
        recorded = await scripts.script("progress")(
            self.redis,
            [q.lease(self.job_id), q.state(self.job_id)],
            [self.lease_token, value, self.job_id, state_field],
        )
        return bool(recorded)


ReportProgress = Callable[[float, str], bool]
OnLoop = Callable[[Coroutine[Any, Any, Any]], Any]
"""Runs a coroutine on the worker's event loop from a job's thread, and waits for it."""


@dataclass(slots=True)
class SyncJobContext(JobFacts):
    """A `def` job's context (annotate a parameter with it): `JobContext`'s facts, with methods
    that block. In a thread, `progress` waits for the worker to record it; in a child process
    (`run_in="process"`) it is sent to the worker, and the worker's resources are not there."""

    report: ReportProgress = field(kw_only=True)
    """Records progress for this try (the worker gives it)."""
    on_loop: OnLoop | None = field(default=None, kw_only=True)
    """In a thread: runs the context's Redis calls on the worker's loop (None in a child
    process, which has no Redis connection of its own)."""
    context: JobContext | None = field(default=None, kw_only=True)

    @classmethod
    def of(
        cls, context: JobContext, report: ReportProgress, on_loop: OnLoop | None = None
    ) -> "SyncJobContext":
        c = context
        return cls(
            c.job_id,
            c.name,
            c.try_,
            c.max_tries,
            c.enqueued_at,
            c.worker_id,
            c.extras,
            c.lease_token,
            c.parent_results,
            c.parent_failures,
            c.parent_statuses,
            c.batch,
            c.steps,
            report=report,
            on_loop=on_loop,
            context=context,
        )

    def progress(self, fraction: float, message: str = "") -> bool:
        """Record how far the job is (0..1); False if this try no longer holds its lease."""
        return self.report(min(max(float(fraction), 0.0), 1.0), message)

    def step(self, name: str, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run `function(*args, **kwargs)` once per job (as `JobContext.step`), here in the
        job's thread; its result is stored and replayed by later tries."""
        steps.check_name(name)
        context = self._loop_context()
        stored = self._call(context.stored_step(name))
        if stored is not None:
            self.steps.append(name)
            return cast(T, steps.decode(name, function, stored))
        result = function(*args, **kwargs)
        self._call(context.record_step(name, steps.encode(name, function, result)))
        return result

    def sleep(self, seconds: float, *, name: str | None = None) -> None:
        """Durable sleep (as `JobContext.sleep`): this try ends, the job resumes later."""
        self._call(self._loop_context().sleep(seconds, name=name))

    def sleep_until(self, when: datetime, *, name: str | None = None) -> None:
        self._call(self._loop_context().sleep_until(when, name=name))

    def wait_for_signal(self, name: str, *, timeout: float) -> Any:
        """Park the job until the signal comes (as `JobContext.wait_for_signal`)."""
        return self._call(self._loop_context().wait_for_signal(name, timeout=timeout))

    def _loop_context(self) -> JobContext:
        if self.on_loop is None or self.context is None:
            raise NotImplementedError(
                "durable steps, sleeps and signals need the worker's Redis connection: a "
                "run_in='process' job has none (use a thread job, or split the job)"
            )
        return self.context

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        assert self.on_loop is not None
        result: T = self.on_loop(coroutine)
        return result
