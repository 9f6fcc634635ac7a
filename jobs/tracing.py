"""Traces across processes: OpenTelemetry, on the standard environment.

Setting `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) turns tracing on
in the process that calls `configure_from_environment` (the web and the worker): an SDK tracer
provider exporting OTLP over HTTP (protobuf), built from the SDK's own environment reading, so
`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_BSP_*` and
`OTEL_EXPORTER_OTLP_*` (headers, timeout, compression) mean what they mean everywhere. Unset,
nothing is installed and every helper here returns at its first test of `_tracer`.

The trace crosses Redis in the job's definition: an enqueue stores the W3C `traceparent` of the
span current at the enqueue (`traceparent`: the HTTP request's, a `JobClient` caller's, the
try's of a job that enqueues another), and each try of the job runs in a span of its own whose
parent is that context (`start_try`), so every try of a retried job sits in the trace of the
request that enqueued it.
"""

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from contextvars import Token
from typing import Any, NamedTuple

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
    Tracer,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from jobs.layout import encryption

logger = logging.getLogger("jobs.tracing")

TRACER_NAME = "jobservice"
_propagator = TraceContextTextMapPropagator()  # W3C trace context only, whatever OTEL_PROPAGATORS

_tracer: Tracer | None = None
"""Set while tracing is on in this process; None (the default) turns every helper into a no-op."""
_provider: Any = None
"""The SDK provider this module installed (flushed and shut down by `shutdown`)."""
_batches: Any = None
"""Its batch span processor (shut down first, within `FLUSH_MS`)."""


def endpoint_configured() -> bool:
    """Whether the standard environment asks for trace export (and does not disable it)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def configure_from_environment(role: str) -> bool:
    """Turn tracing on if the environment asks for it; True if it is on. `role` (web, worker)
    names the process in the resource (`jobservice.process`), and in `service.name`
    (`jobservice-{role}`) when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` names
    the service. Called again, it keeps what is installed."""
    global _tracer, _provider, _batches
    if _tracer is not None:
        return True
    if not endpoint_configured():
        return False
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    )
    if exporter != "otlp" or protocol not in ("", "http/protobuf"):
        logger.warning(
            "tracing off: only OTLP over HTTP/protobuf is supported (OTEL_TRACES_EXPORTER=%s, "
            "protocol %s)",
            exporter,
            protocol,
        )
        return False
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        # The host application (jobs inside its own app) set up OpenTelemetry itself: use it.
        _tracer = trace.get_tracer(TRACER_NAME)
        return True
    # Imported only when on: a process without the variable loads none of the SDK.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"jobservice.process": role})  # reads OTEL_SERVICE_NAME & co
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: f"jobservice-{role}"}))
    # No arguments: the sampler, the batch delays and the exporter's endpoint, headers and
    # timeout come from the OTEL_* variables, read by the SDK itself.
    provider = TracerProvider(resource=resource, shutdown_on_exit=True)
    batches = BatchSpanProcessor(OTLPSpanExporter())
    provider.add_span_processor(batches)
    trace.set_tracer_provider(provider)
    _provider, _batches = provider, batches
    _tracer = trace.get_tracer(TRACER_NAME)
    logger.info("tracing on: OTLP/HTTP export (%s)", resource.attributes.get(SERVICE_NAME))
    return True


def enabled() -> bool:
    return _tracer is not None


FLUSH_MS = 5000
"""How long a stopping process waits for its last spans to be taken (a collector that does
not answer must not eat the platform's shutdown grace)."""


def flush() -> None:
    """Export what is buffered now (a web's lifespan end: the process may end soon after)."""
    if _batches is not None:
        _batches.force_flush(FLUSH_MS)


def shutdown() -> None:
    """Export what is buffered and stop, within `FLUSH_MS` (a process's last step; atexit does
    it otherwise)."""
    global _tracer, _provider, _batches
    provider, batches = _provider, _batches
    _provider = _batches = _tracer = None
    if batches is not None:
        # Bounded: the processor's own shutdown takes no timeout (and the provider's waits up
        # to 30 s), so the buffer is flushed within FLUSH_MS first and the shutdown finds it
        # empty.
        batches.force_flush(FLUSH_MS)
        batches.shutdown()
    if provider is not None:
        provider.shutdown()


def traceparent() -> str | None:
    """The W3C `traceparent` of the current span, to store with a job; None when tracing is
    off or no span is current (so nothing is stored)."""
    if _tracer is None:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def headers() -> dict[str, str]:
    """The current context as HTTP headers (`traceparent`, `tracestate`): what an outgoing
    request sends; empty when tracing is off."""
    if _tracer is None:
        return {}
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier


def _parent(traceparent: str | None) -> Context:
    """The context a stored `traceparent` names; an empty one (a new root) if none or bad.
    Parsed here rather than by the propagator: its regular expression was a third of an
    unsampled try's cost."""
    if not traceparent or len(traceparent) != 55:
        return Context()
    try:
        version, trace_id, span_id, flags = traceparent.split("-")
        parent = SpanContext(
            int(trace_id, 16),
            int(span_id, 16),
            is_remote=True,
            trace_flags=TraceFlags(int(flags, 16)),
        )
    except ValueError:
        return Context()
    if version != "00" or not parent.is_valid:
        return Context()
    return trace.set_span_in_context(NonRecordingSpan(parent), Context())


def log_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) in hex of the current span, for a log line; None if none."""
    if _tracer is None:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


class TrySpan(NamedTuple):
    """A try's span, and the token that made it current (`start_try`, `end_try`)."""

    span: Span
    token: Token[Context]


def start_try(job_id: str, name: str, queue: str, tries: int, parent: str | None) -> TrySpan | None:
    """Start the span of one try and make it current (the job's own spans and enqueues are its
    children), as a child of the context its enqueue stored; None when tracing is off. Not a
    context manager: one per try, and two nested generator-based ones cost more than the span."""
    if _tracer is None:
        return None
    attributes: dict[str, str | int] = {
        "job.id": job_id,
        "job.name": name,
        "job.queue": queue,
        "job.try": tries,
    }
    span = _tracer.start_span(
        f"job {name}", context=_parent(parent), kind=SpanKind.CONSUMER, attributes=attributes
    )
    return TrySpan(span, otel_context.attach(trace.set_span_in_context(span)))


def end_try(
    current: TrySpan | None, outcome: str, retry_delay_ms: int | None, cancel_reason: str | None
) -> None:
    """End a try's span with its outcome: `job.outcome` (complete, failed, aborted, retry,
    requeue, defer, lease_lost), `job.retry_delay_ms`, and why the worker cut it off as an
    event (lease lost, timeout, abort requested, worker shutdown)."""
    if current is None:
        return
    span = current.span
    otel_context.detach(current.token)
    if span.is_recording():
        span.set_attribute("job.outcome", outcome)
        if retry_delay_ms is not None:
            span.set_attribute("job.retry_delay_ms", retry_delay_ms)
        if cancel_reason is not None:
            span.add_event(_CANCEL_EVENTS.get(cancel_reason, cancel_reason))
        if outcome in ("failed", "retry", "lease_lost", "cancelled"):
            span.set_status(StatusCode.ERROR, outcome)
    span.end()


_CANCEL_EVENTS = {
    "lost": "lease lost",
    "timeout": "timeout",
    "abort": "abort requested",
    "shutdown": "worker shutdown",
}


def job_error(exc: BaseException) -> None:
    """Record a try's exception on the current span (its try's)."""
    if _tracer is None:
        return
    if encryption.active() is not None:  # its message may quote the job's data: the type only
        attributes = {"exception.type": type(exc).__name__, "exception.message": "(encrypted)"}
        trace.get_current_span().add_event("exception", attributes)
        return
    trace.get_current_span().record_exception(exc)


@contextlib.contextmanager
def span(
    name: str,
    attributes: Mapping[str, str | int | float | bool],
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    root: bool = False,
) -> Iterator[Span | None]:
    """A span of ours, current inside the block; `root`: a trace of its own (a cron tick).
    None when tracing is off."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(
        name, context=Context() if root else None, kind=kind, attributes=attributes
    ) as current:
        yield current
