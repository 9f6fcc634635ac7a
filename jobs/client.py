"""The typed Python API for code that enqueues: endpoints of your own, scripts, other jobs.

    jobs = JobClient(redis)
    handle = await jobs.enqueue(send_email, SendEmail(to=..., subject=..., body=...))
    sent: EmailSent = await handle.result(timeout=30)

It takes the job *function* (or its name), validates the input against the job's model before
anything is queued (`InvalidJobInput`; an undeclared job is `UnknownJobName`), routes to the
job's queue unless told otherwise, and returns a handle typed by the job's output model.
In the service, `service.deps.JobsDep` gives one to a route.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar, Unpack, cast, overload

from pydantic import BaseModel, ValidationError
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from jobs.cron import stored
from jobs.cron.schedules import Missed, Overlap, schedules_for
from jobs.cron.stored import ScheduleDefinition, StoredSchedule
from jobs.declare.context import JobContext
from jobs.declare.registry import DECLARED, JobDeclaration, load_catalog, output_value
from jobs.enqueue import abort as aborting
from jobs.enqueue import signals
from jobs.enqueue.options import EnqueueKwargs, EnqueueOptions
from jobs.enqueue.plan import UnknownJobName
from jobs.enqueue.submit import Enqueued, enqueue, enqueue_many
from jobs.graph.batches import BatchCreated, create_batch
from jobs.graph.workflow_commit import enqueue_workflow
from jobs.graph.workflow_retry import Retried, retry_workflow
from jobs.graph.workflows import Created, Task, Workflow
from jobs.graph.workflows import load as load_workflow
from jobs.layout.connection import RedisClient, is_cluster, pubsub_client
from jobs.reading import changes
from jobs.reading.job_record import JobRecord, JobStatus, load_job
from jobs.settings import Settings, get_settings

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)

POLL_S = 0.5
"""`result()` wakes on the job's events; this is only the fallback if one is missed."""


class JobClientError(Exception):
    """Base of what the client raises about a job (not about Redis)."""


class InvalidJobInput(JobClientError, ValueError):
    """The input does not match the job's input model; nothing was enqueued."""

    def __init__(self, job: str, error: ValidationError) -> None:
        super().__init__(f"invalid input for {job}: {error}")
        self.errors = error.errors(include_url=False)


class JobNotFound(JobClientError, LookupError):
    """No such job (unknown id, or its record has expired)."""


class JobFailedError(JobClientError):
    """The job ended failed; `record.error` says why."""

    def __init__(self, record: JobRecord) -> None:
        error = record.error
        super().__init__(
            f"job {record.id} failed: {error.type if error else '?'}: "
            f"{error.message if error else ''}"
        )
        self.record = record


class JobAbortedError(JobClientError):
    """The job was aborted."""

    def __init__(self, record: JobRecord) -> None:
        super().__init__(f"job {record.id} was aborted")
        self.record = record


class JobHandle(Generic[Out]):
    """A job that was enqueued: follow it, wait for its typed result, abort it."""

    def __init__(self, client: "JobClient", job_id: str, output_model: type[Out]) -> None:
        self.client = client
        self.id = job_id
        self.output_model = output_model

    def __repr__(self) -> str:
        return f"JobHandle({self.id!r})"

    async def status(self) -> JobRecord:
        """The job's current JobView."""
        record = await self.client.record(self.id)
        if record is None:
            raise JobNotFound(f"no job {self.id!r} (unknown or expired)")
        return record

    async def result(self, timeout: float | None = None) -> Out:  # noqa: ASYNC109 (the API)
        """Wait for the job to end; its output model. Raises `JobFailedError`,
        `JobAbortedError`, or `TimeoutError` when `timeout` seconds pass first."""
        async with asyncio.timeout(timeout):
            record = await self.client.wait_final(self.id)
        if record.status is JobStatus.failed:
            raise JobFailedError(record)
        if record.status is JobStatus.aborted:
            raise JobAbortedError(record)
        return output_value(self.output_model, record.result)  # type: ignore[no-any-return]

    async def abort(self) -> bool:
        """Abort it: True if it will not complete (aborted now, or its worker cancels it)."""
        outcome = await aborting.abort(
            self.client.redis, self.id, self.client.settings, legacy=self.client.legacy
        )
        if outcome == "missing":
            raise JobNotFound(f"no job {self.id!r} (unknown or expired)")
        return outcome in ("aborted", "running")


JobRef = Callable[[JobContext, In], Awaitable[Out]]


class JobClient:
    def __init__(self, redis: RedisClient, settings: Settings | None = None) -> None:
        self.redis = redis
        self.settings = settings or get_settings()
        self.legacy = not is_cluster(self.settings)

    def declaration(self, job: Callable[..., Any] | str) -> JobDeclaration:
        """The declaration of a job given by function or by name."""

        def lookup() -> JobDeclaration | None:
            if isinstance(job, str):
                return DECLARED.get(job)
            return next((d for d in DECLARED.values() if d.function is job), None)

        found = lookup()
        if found is None:
            load_catalog(self.settings)  # imports the task modules and JOB_MODULES
            found = lookup()
        if found is None:
            name = job if isinstance(job, str) else getattr(job, "__qualname__", repr(job))
            raise UnknownJobName(f"{name!r} is not a declared job (see @job)")
        return found

    def _validated(
        self, declared: JobDeclaration, payload: BaseModel | dict[str, Any]
    ) -> BaseModel:
        data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
        try:
            return declared.enqueue_model.model_validate(data)
        except ValidationError as exc:
            raise InvalidJobInput(declared.name, exc) from None

    @overload
    async def enqueue(
        self,
        job: JobRef[In, Out],
        payload: In | dict[str, Any],
        *,
        job_id: str | None = None,
        idempotency_key: str | None = None,
        options: EnqueueOptions | None = None,
        **option_kwargs: Unpack[EnqueueKwargs],
    ) -> JobHandle[Out]: ...

    @overload
    async def enqueue(
        self,
        job: Callable[..., Any] | str,
        payload: BaseModel | dict[str, Any] | None = None,
        *,
        job_id: str | None = None,
        idempotency_key: str | None = None,
        options: EnqueueOptions | None = None,
        **fields_and_options: Any,
    ) -> JobHandle[Any]: ...

    async def enqueue(
        self,
        job: Callable[..., Any] | str,
        payload: BaseModel | dict[str, Any] | None = None,
        *,
        job_id: str | None = None,
        idempotency_key: str | None = None,
        options: EnqueueOptions | None = None,
        **fields_and_options: Any,
    ) -> JobHandle[Any]:
        """Validate, then enqueue; a handle to the job (an existing one for a repeated
        `idempotency_key` with the same input, or when uniqueness or debounce resolve it to an
        equal job not final yet).

        The input is `payload` (its model, or a dict), or else the job's parameters as
        keywords: `await jobs.enqueue(send_notification, message="hi", defer_by=60)`. The other
        keywords are `jobs.enqueue.options.EnqueueOptions`'s fields (or give `options=`; a
        parameter named like an option is the job's, and that option goes in `options=`)."""
        declared = self.declaration(job)
        if payload is None:
            fields = declared.input_model.model_fields
            payload = {k: v for k, v in fields_and_options.items() if k in fields}
            fields_and_options = {k: v for k, v in fields_and_options.items() if k not in fields}
        unknown = set(fields_and_options) - set(EnqueueKwargs.__annotations__)
        if unknown:
            raise TypeError(
                f"enqueue({declared.name}): unexpected keyword arguments {sorted(unknown)} "
                "(neither the job's parameters nor enqueue options)"
            )
        enqueued: Enqueued = await enqueue(
            self.redis,
            declared.resolve(self.settings),
            self._validated(declared, payload),
            EnqueueOptions.of(options, cast(EnqueueKwargs, fields_and_options)),
            job_id=job_id,
            idempotency_key=idempotency_key,
            settings=self.settings,
        )
        return JobHandle(self, enqueued.job_id, declared.output_model)

    async def enqueue_many(
        self,
        job: JobRef[In, Out],
        payloads: Sequence[In | dict[str, Any]],
        **options: Unpack[EnqueueKwargs],
    ) -> list[JobHandle[Out]]:
        """Validate every input first (one bad input: `InvalidJobInput`, nothing queued), then
        enqueue them in order, a few hundred per round trip. An input equal to a job not final
        yet (uniqueness, debounce) gets that job's handle. With `after`, every job waits for
        those parents; with `callback_url`, each job's webhook goes there."""
        declared = self.declaration(job)
        validated = [self._validated(declared, p) for p in payloads]
        enqueued = await enqueue_many(
            self.redis,
            declared.resolve(self.settings),
            validated,
            EnqueueOptions(**options),
            settings=self.settings,
        )
        output = cast(type[Out], declared.output_model)
        return [JobHandle(self, e.job_id, output) for e in enqueued]

    async def enqueue_workflow(
        self, workflow: Workflow, *, callback_url: str | None = None
    ) -> Created:
        """Validate the whole graph (`InvalidWorkflow` names the node), then write it all or
        nothing; the workflow's id and each node's job id (`jobs.graph.workflows`). `callback_url`:
        a signed POST of its outcome once every job is final."""
        return await enqueue_workflow(
            self.redis, workflow, self.settings, callback_url=callback_url
        )

    async def retry_workflow(
        self, workflow_id: str, inputs: dict[str, Any] | None = None
    ) -> Retried:
        """Rerun a final workflow's (or batch's) nodes that did not complete, keeping the
        completed ones (`jobs.graph.workflow_retry`: its refusals and the corrected `inputs`
        by node key). `JobNotFound` for an unknown or expired workflow."""
        state = await load_workflow(self.redis, workflow_id, self._max_tries(), legacy=self.legacy)
        if state is None:
            raise JobNotFound(f"no workflow {workflow_id!r} (unknown or expired)")
        return await retry_workflow(self.redis, state, self.settings, inputs=inputs)

    async def enqueue_batch(
        self,
        jobs: Sequence[Task],
        *,
        on_success: Task | None = None,
        on_complete: Task | None = None,
        callback_url: str | None = None,
    ) -> BatchCreated:
        """Many jobs as one batch, with callbacks once all are final (`jobs.graph.batches`)."""
        return await create_batch(
            self.redis,
            self.settings,
            jobs,
            on_success=on_success,
            on_complete=on_complete,
            callback_url=callback_url,
        )

    async def put_schedule(
        self,
        name: str,
        job: Callable[..., Any] | str,
        *,
        input: BaseModel | dict[str, Any] | None = None,
        cron: str | None = None,
        every: float | None = None,
        tz: str = "UTC",
        missed: Missed = "skip",
        overlap: Overlap = "allow",
        paused: bool = False,
    ) -> StoredSchedule:
        """Create or replace a runtime schedule (as `PUT /schedules/{name}`): `cron` or
        `every` seconds. Checked first (`ScheduleRefused` says what is wrong); every worker
        runs it within about a second; a schedule declared in code keeps its own name."""
        declared = self.declaration(job)
        data = input.model_dump(mode="json") if isinstance(input, BaseModel) else (input or {})
        definition = ScheduleDefinition(
            job=declared.name, input=data, cron=cron, every=every, tz=tz, missed=missed,
            overlap=overlap, paused=paused,
        )  # fmt: skip
        catalog = load_catalog(self.settings)
        if any(s.key == name for s in schedules_for(catalog)):
            raise stored.ScheduleRefused(f"schedule {name!r} is declared in code", "name")
        stored.check(name, definition, catalog)
        schedule, _ = await stored.put(self.redis, name, definition)
        return schedule

    async def schedules(self) -> dict[str, StoredSchedule]:
        """The runtime schedules, by name (those in code are in `jobs.cron.schedules`)."""
        _, found = await stored.load_all(self.redis)
        return {name: definition for name, (_, definition) in found.items()}

    async def delete_schedule(self, name: str) -> bool:
        """Delete a runtime schedule; False if there was none."""
        return await stored.delete(self.redis, name)

    async def send_signal(self, job_id: str, name: str, body: Any = None) -> bool:
        """Wake a job parked in `ctx.wait_for_signal(name)` with `body`; False if it is not
        waiting for that signal (as the API's 409)."""
        outcome, _ = await signals.send_signal(self.redis, job_id, name, body)
        return outcome == "delivered"

    def handle(self, job_id: str, output_model: type[Out]) -> JobHandle[Out]:
        """A handle to a job enqueued elsewhere."""
        return JobHandle(self, job_id, output_model)

    async def record(self, job_id: str) -> JobRecord | None:
        return await load_job(self.redis, job_id, self._max_tries(), legacy=self.legacy)

    def _max_tries(self) -> dict[str, int]:
        return {name: d.resolve(self.settings).max_tries for name, d in DECLARED.items()}

    async def wait_final(self, job_id: str) -> JobRecord:
        """Until the job is final: woken by its events, polling only as a fallback."""
        client = pubsub_client(self.settings)
        pubsub = await changes.subscribe(client)
        try:
            while True:
                record = await self.record(job_id)
                if record is None:
                    raise JobNotFound(f"no job {job_id!r} (unknown or expired)")
                if record.status.is_final:
                    return record
                await _next_change(pubsub, job_id)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            with contextlib.suppress(RedisError, OSError):
                await client.aclose()


async def _next_change(pubsub: PubSub, job_id: str) -> None:
    """Until a message names `job_id`, or `POLL_S` passes."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(POLL_S):
            while True:
                message = await pubsub.get_message(timeout=POLL_S)
                data = message.get("data") if message else None
                if isinstance(data, bytes) and job_id in changes.changed_jobs(data):
                    return
