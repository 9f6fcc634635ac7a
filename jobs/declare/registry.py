"""`@job`: declare a job with typed input and output; the catalog both worker and API read.

    @job(max_tries=5, timeout=30, retry_on=(SMTPException, OSError))
    async def send_email(ctx: JobContext, payload: SendEmail) -> EmailSent: ...

    @job()
    def send_notification(message: str, urgent: bool = False) -> None: ...

An `async def` runs on the worker's event loop; a plain `def` in its thread pool
(`WORKER_THREADS`), or with `run_in="process"` in a child process (`WORKER_PROCESSES`): blocking
and CPU-bound code never holds the loop. The input and output models come from the signature
(`jobs.declare.signature`); the input is validated at enqueue time by the API and again by the
worker; the output's JSON is the stored result.
"""

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel, RootModel, ValidationError

from jobs.declare.context import JobContext, SyncJobContext
from jobs.declare.job_errors import InvalidOutput, ReportedError
from jobs.declare.models import ExtraFields, enqueue_model
from jobs.declare.signature import Invoke, read_signature
from jobs.flow.limits import FlowControl, declare
from jobs.layout.keys import check_queue_name
from jobs.layout.serialization import is_permanent
from jobs.settings import Settings

MaxTries = int | Callable[[Settings], int]
"""A number of tries, or how to read it from the settings when the catalog is loaded (a
built-in job whose limit is a setting, e.g. `jobsvc.deliver_webhook`'s
`WEBHOOK_MAX_ATTEMPTS`)."""

RunIn = Literal["loop", "thread", "process"]
"""Where a try runs: the worker's event loop (`async def`), its thread pool or a child process
(`def`)."""

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True, kw_only=True)
class JobOptions:
    """What `@job(...)` was given; `None` means "the settings' default"."""

    max_tries: MaxTries | None = None
    timeout_s: float | None = None
    queue: str | None = None
    backoff_base_s: float | None = None
    backoff_max_s: float | None = None
    keep_result_s: float | None = None
    internal: bool = False


@dataclass(frozen=True, slots=True)
class JobDeclaration:
    name: str
    function: Callable[..., Any]
    input_model: type[BaseModel]
    enqueue_model: type[BaseModel]
    output_model: type[BaseModel]
    description: str
    retry_on: tuple[type[BaseException], ...]
    options: JobOptions
    flow: FlowControl
    invoke: Invoke
    run_in: RunIn

    def resolve(self, settings: Settings) -> "JobSpec":
        o = self.options
        max_tries = o.max_tries(settings) if callable(o.max_tries) else o.max_tries
        return JobSpec(
            name=self.name,
            function=self.function,
            input_model=self.input_model,
            enqueue_model=self.enqueue_model,
            output_model=self.output_model,
            description=self.description,
            retry_on=self.retry_on,
            max_tries=max_tries or settings.default_max_tries,
            timeout_s=o.timeout_s or settings.job_timeout_s,
            queue=o.queue or settings.queue_name,
            backoff_base_s=settings.backoff_base_s
            if o.backoff_base_s is None
            else o.backoff_base_s,
            backoff_max_s=settings.backoff_max_s if o.backoff_max_s is None else o.backoff_max_s,
            keep_result_s=settings.result_ttl_s if o.keep_result_s is None else o.keep_result_s,
            flow=self.flow,
            internal=o.internal,
            invoke=self.invoke,
            run_in=self.run_in,
        )


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A declared job with every option settled: what the worker and the API use."""

    name: str
    function: Callable[..., Any]
    input_model: type[BaseModel]
    """What the worker validates a queued job's input with (lenient: unknown fields dropped)."""
    enqueue_model: type[BaseModel]
    """What an enqueue validates with: the input model refusing unknown fields unless the job
    opts out (`@job(extra_fields=...)`; `jobs.declare.models.enqueue_model`)."""
    output_model: type[BaseModel]
    description: str
    retry_on: tuple[type[BaseException], ...]
    max_tries: int
    timeout_s: float
    queue: str
    backoff_base_s: float
    backoff_max_s: float
    keep_result_s: float
    """How long a successful result is kept; 0 keeps none (the final status stays readable
    for `RESULT_GRACE_S`, and the job leaves the listing)."""
    flow: FlowControl = field(default_factory=FlowControl)
    """Limits shared by all workers, uniqueness, expiry (`jobs.flow.limits`)."""
    internal: bool = False
    """Enqueued by the service itself (a webhook delivery, a workflow's gate): no
    `POST /jobs/{name}` route, not listed in `/job-types` (nor the dashboard's enqueue form)."""
    invoke: Invoke = field(default=lambda ctx, payload: None)
    """Calls the function with a context and a validated input (`jobs.declare.signature`)."""
    run_in: RunIn = "loop"

    def is_retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, ReportedError):  # the child process judged it by `retry_on`
            return exc.retryable
        return isinstance(exc, self.retry_on) and not is_permanent(exc)

    def parse_input(self, args: tuple[Any, ...] | list[Any], kwargs: dict[str, Any]) -> BaseModel:
        """Accept `(payload,)` as we enqueue it, or `payload=` / plain kwargs from stock ARQ."""
        if args:
            raw = args[0]
        elif "payload" in kwargs:
            raw = kwargs["payload"]
        else:
            raw = kwargs
        return self.input_model.model_validate(raw)

    async def call(self, ctx: dict[str, Any], payload: BaseModel) -> Any:
        """Run an `async def` job on a validated input; the output's JSON out."""
        context = JobContext.from_arq(ctx, self.name, self.max_tries)
        return self.dump_output(await self.invoke(context, payload))

    def call_blocking(self, context: SyncJobContext, payload: BaseModel) -> Any:
        """Run a `def` job (in a thread or a child process); the output's JSON out."""
        return self.dump_output(self.invoke(context, payload))

    def dump_output(self, result: Any) -> Any:
        try:
            return self.output_model.model_validate(result).model_dump(mode="json")
        except ValidationError as invalid:
            raise InvalidOutput(self.name, self.output_model, invalid) from None


DECLARED: dict[str, JobDeclaration] = {}
"""Every declared job by name, filled as the task modules are imported."""


def job(
    *,
    name: str | None = None,
    description: str | None = None,
    max_tries: MaxTries | None = None,
    timeout: float | None = None,
    queue: str | None = None,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    backoff_base: float | None = None,
    backoff_max: float | None = None,
    keep_result: float | None = None,
    concurrency: int | None = None,
    concurrency_key: str | None = None,
    rate_limit: str | None = None,
    rate_key: str | None = None,
    rate_burst: int = 1,
    unique_for: float | None = None,
    unique_key: str | None = None,
    debounce: float | None = None,
    expires: float | None = None,
    fair_key: str | None = None,
    internal: bool = False,
    run_in: RunIn | None = None,
    extra_fields: ExtraFields | None = None,
) -> Callable[[F], F]:
    """Declare a job. Options left `None` take the settings' defaults.

    `queue`: the queue it goes to unless an enqueue names another. `keep_result`: seconds to
    keep a successful result (0: fire and forget; ARQ's `keep_result`). `max_tries` may be a
    function of the settings (read when the catalog is loaded). `internal`: only the service
    enqueues it (no HTTP enqueue route, not in `/job-types`). `run_in`: "process" runs a
    `def` in a child process (CPU-bound work); the default is the loop for an `async def`, the
    thread pool for a `def`. `extra_fields`: what an enqueue does with input fields the job
    does not declare: "forbid" (a 422 naming them; the default, unless the input model sets
    its own `model_config['extra']`), "ignore" (dropped) or "allow" (kept).

    Flow control (`jobs.flow.limits`), shared by every worker:
    - `concurrency`: at most this many run at once; `concurrency_key` (an input field)
      applies the limit per value of that field;
    - `rate_limit`: "COUNT/UNIT" (s, m, h, d; e.g. "100/m"), GCRA, per `rate_key` value if
      given; `rate_burst` admissions may come at once after a quiet spell (default 1);
    - `unique_for`: seconds during which an equal enqueue (same input, or same `unique_key`
      field value) returns the waiting job instead of a new one;
    - `debounce`: seconds; the job waits that long, and an equal enqueue meanwhile replaces
      its input and starts the wait again;
    - `expires`: seconds after enqueue; a job not started by then fails as `Expired`;
    - `fair_key` (an input field): within a queue and a priority, ready jobs of different
      values of that field are served in turn (weights: `PUT /queues/{q}/fair-weights/{v}`)."""
    if queue is not None:
        check_queue_name(queue)
    if keep_result is not None and keep_result < 0:
        raise ValueError("keep_result must be >= 0 seconds")
    if extra_fields is not None and extra_fields not in get_args(ExtraFields):
        raise ValueError(f"extra_fields must be one of {', '.join(get_args(ExtraFields))}")

    def register(function: F) -> F:
        job_name = name or function.__name__
        where = _run_in(function, job_name, run_in)
        signature = read_signature(function, job_name, blocking=where != "loop")
        input_model, output_model = signature.input_model, signature.output_model
        flow = declare(
            job_name,
            input_model,
            concurrency=concurrency,
            concurrency_key=concurrency_key,
            rate_limit=rate_limit,
            rate_key=rate_key,
            rate_burst=rate_burst,
            unique_for=unique_for,
            unique_key=unique_key,
            debounce=debounce,
            expires=expires,
            fair_key=fair_key,
        )
        _add(
            JobDeclaration(
                name=job_name,
                function=function,
                input_model=input_model,
                enqueue_model=enqueue_model(input_model, extra_fields),
                output_model=output_model,
                description=description or inspect.getdoc(function) or "",
                retry_on=retry_on,
                options=JobOptions(
                    max_tries=max_tries,
                    timeout_s=timeout,
                    queue=queue,
                    backoff_base_s=backoff_base,
                    backoff_max_s=backoff_max,
                    keep_result_s=keep_result,
                    internal=internal,
                ),
                flow=flow,
                invoke=signature.invoke,
                run_in=where,
            )
        )
        return function

    return register


def _run_in(function: Callable[..., Any], job_name: str, run_in: RunIn | None) -> RunIn:
    """Where its tries run: what was asked, checked against what the function is."""
    if run_in is not None and run_in not in get_args(RunIn):
        raise ValueError(
            f"job {job_name!r}: run_in must be one of {', '.join(get_args(RunIn))}, not {run_in!r}"
        )
    is_async = inspect.iscoroutinefunction(function)
    default: RunIn = "loop" if is_async else "thread"
    if run_in is None or run_in == default:
        return default
    if is_async:
        raise TypeError(
            f"job {job_name!r}: run_in={run_in!r} takes a plain def (an async def runs on the "
            "worker's event loop)"
        )
    if run_in == "loop":
        raise TypeError(
            f"job {job_name!r}: a plain def cannot run on the event loop (it would block every "
            "other job): declare it async def, or leave run_in out (a thread)"
        )
    return run_in


def output_value(model: type[BaseModel], stored: Any) -> Any:
    """A stored result as its job returned it: the model, or the plain value of an output
    that is not a model (`RootModel`)."""
    value = model.model_validate(stored)
    return value.root if isinstance(value, RootModel) else value


def _add(declared: JobDeclaration) -> None:
    """Into the catalog; the same name for another function is refused."""
    known = DECLARED.get(declared.name)
    if known is not None and known.function is not declared.function:
        raise ValueError(f"job {declared.name!r} is declared twice")
    DECLARED[declared.name] = declared


class JobModuleError(RuntimeError):
    """A job module could not be imported: the worker and the web refuse to start without it."""


def import_job_module(name: str) -> None:
    try:
        importlib.import_module(name)
    except Exception as exc:
        raise JobModuleError(
            f"job module {name!r} failed to import ({type(exc).__name__}: {exc}); "
            "fix it, or take it out of JOB_MODULES"
        ) from exc


INTERNAL_JOB_MODULES = (
    "jobs.webhooks.delivery",
    "jobs.graph.internal_jobs",
    "jobs.cron.housekeeping",
)
"""Jobs the service enqueues itself (webhook deliveries, workflow gates, housekeeping), kept
beside their concept rather than among the example jobs."""


def load_catalog(settings: Settings) -> dict[str, JobSpec]:
    """Import the service's internal jobs, with `EXAMPLES` every module of `jobs.tasks` (a new
    file there is picked up by itself), and every `JOB_MODULES` entry (your own package's
    modules); return the settled catalog."""
    for internal in INTERNAL_JOB_MODULES:
        import_job_module(internal)
    if settings.examples:
        import_job_module("jobs.tasks")
        tasks = importlib.import_module("jobs.tasks")
        for module in pkgutil.iter_modules(tasks.__path__, prefix="jobs.tasks."):
            import_job_module(module.name)
    for name in settings.job_modules:
        import_job_module(name)
    return {name: declared.resolve(settings) for name, declared in DECLARED.items()}
