"""`jobs.tracing` in one process: off by default (nothing stored, nothing made), and, with a
tracer of the test's own (an in-memory exporter: the process's global provider is left alone),
what a try's span says: its enqueue's trace, its outcome, a timeout as an event. The trace
across real processes and OTLP is `tests/e2e/test_tracing_e2e.py`."""

import logging
import os
import queue
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from jobs import tracing
from jobs.enqueue.submit import enqueue
from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.layout.records import JobDefinition
from jobs.logs import Line, _Handoff, line
from settings import Settings
from tests.support.otlp_receiver import otlp_receiver
from tests.support.workers import RunWorker

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory, for this test only."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("test"))
    yield exporter
    provider.shutdown()


async def stored(redis: RedisClient, job_id: str) -> dict[str, object]:
    raw = await redis.get(keys.of_job(job_id).job(job_id))
    assert raw is not None
    definition: dict[str, object] = orjson.loads(raw)
    return definition


async def test_off_by_default_nothing_is_made_or_stored(
    monkeypatch: pytest.MonkeyPatch, redis: RedisClient, settings: Settings
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert not tracing.configure_from_environment("test")
    assert not tracing.enabled()
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"  # no SDK
    assert tracing.traceparent() is None and tracing.headers() == {}
    assert tracing.log_ids() is None
    assert tracing.start_try("id", "ping", "q", 1, TRACEPARENT) is None
    job = await enqueue(redis, "ping", {}, settings=settings)
    assert "tp" not in await stored(redis, job.job_id)


@pytest.mark.parametrize(
    "endpoint_env",
    [{"OTEL_SDK_DISABLED": "true"}, {"OTEL_TRACES_EXPORTER": "none"}],
)
def test_the_standard_switches_keep_it_off(
    monkeypatch: pytest.MonkeyPatch, endpoint_env: dict[str, str]
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    for name, value in endpoint_env.items():
        monkeypatch.setenv(name, value)
    assert not tracing.endpoint_configured()


def test_a_definition_keeps_its_trace_context_and_drops_a_malformed_one() -> None:
    traced = JobDefinition("ping", [{}], {}, 0, "q", 0, None, False, TRACEPARENT)
    raw = traced.dump_open() + b',"et":1}'
    loaded = JobDefinition.load(raw)
    assert isinstance(loaded, JobDefinition) and loaded.trace == TRACEPARENT
    plain = JobDefinition("ping", [{}], {}, 0, "q").dump_open()
    assert b"tp" not in plain
    bad = JobDefinition.load(b'{"f":"ping","a":[{}],"k":{},"et":1,"tp":7}')
    assert isinstance(bad, JobDefinition) and bad.trace is None  # the job still runs


@pytest.mark.parametrize(
    "parent",
    [
        None,
        "",
        "garbage",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ],
)
def test_a_try_without_a_usable_parent_starts_a_trace_of_its_own(
    exported: InMemorySpanExporter, parent: str | None
) -> None:
    tracing.end_try(tracing.start_try("id", "ping", "q", 1, parent), "complete", None, None)
    [span] = exported.get_finished_spans()
    assert span.parent is None


async def test_each_try_is_a_child_of_its_enqueue_with_its_outcome_and_timeout(
    exported: InMemorySpanExporter, redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    with tracing.span("caller", {}) as caller:
        assert caller is not None
        job = await enqueue(redis, "too_slow", {"seconds": 0.5}, settings=settings)  # 0.2 s
    context = caller.get_span_context()
    assert (await stored(redis, job.job_id))["tp"] == tracing_header(context)
    await run_worker()
    tries: list[ReadableSpan] = sorted(
        (s for s in exported.get_finished_spans() if s.name == "job too_slow"),
        key=lambda s: s.start_time or 0,
    )
    assert [s.attributes and s.attributes["job.outcome"] for s in tries] == ["retry", "failed"]
    for span in tries:
        assert span.parent is not None and span.parent.span_id == context.span_id
        assert span.context is not None and span.context.trace_id == context.trace_id
        assert [e.name for e in span.events] == ["exception", "timeout"]
        assert span.status.is_ok is False
    assert tries[0].attributes and "job.retry_delay_ms" in tries[0].attributes


def tracing_header(context: trace.SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def test_log_lines_in_a_span_carry_its_ids(exported: InMemorySpanExporter) -> None:
    logger = logging.getLogger("tests.traced")
    root, written = logging.getLogger(), queue.SimpleQueue[logging.LogRecord | Line]()
    saved, logger.level = root.handlers[:], logging.INFO
    root.handlers[:] = [_Handoff(written)]
    try:
        line(logger, logging.INFO, "outside", {})
        with tracing.span("work", {}) as current:
            assert current is not None
            line(logger, logging.INFO, "a line", {"job": "ping"})
            logger.info("a record")
    finally:
        root.handlers[:], logger.level = saved, logging.NOTSET
    outside, direct, record = written.get_nowait(), written.get_nowait(), written.get_nowait()
    context = current.get_span_context()
    ids = {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
    assert isinstance(outside, Line) and outside.fields == {}
    assert isinstance(direct, Line) and direct.fields == {"job": "ping", **ids}
    assert isinstance(record, logging.LogRecord)
    assert {k: vars(record)[k] for k in ids} == ids


def test_a_process_that_stops_exports_its_last_spans(tmp_path: Path) -> None:
    """`tracing.shutdown()` (a worker's last step) flushes within its bound and stops: in a
    process of its own, since it sets the process's global provider."""
    script = (
        "from jobs import tracing\n"
        "assert tracing.configure_from_environment('stopping')\n"
        "with tracing.span('last words', {}):\n"
        "    pass\n"
        "tracing.shutdown()\n"
        "print('stopped')\n"
    )
    with otlp_receiver() as receiver:
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
        names = [s.name for s in receiver.received()]
    assert done.returncode == 0 and done.stdout == "stopped\n", done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert names == ["last words"]
