"""A job's view names the trace its enqueue began or joined (`trace_id`), while it waits, runs
and after it ended: the final record keeps the enqueue's `traceparent` (`tp`) when tracing
stored one, so the dashboard links a finished job's trace too (`TRACE_URL_TEMPLATE`)."""

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from jobs import tracing
from jobs.enqueue.abort import abort
from jobs.enqueue.submit import enqueue
from jobs.layout.connection import RedisClient
from jobs.reading.job_record import JobStatus, load_job, trace_id
from settings import Settings
from tests.support.workers import RunWorker

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tracing on for this test only (spans go nowhere)."""
    provider = TracerProvider(shutdown_on_exit=False)
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("test"))
    yield
    provider.shutdown()


@pytest.mark.parametrize(
    ("traceparent", "expected"),
    [
        (f"00-{TRACE}-00f067aa0ba902b7-01", TRACE),
        (None, None),
        (7, None),
        ("garbage", None),
        (f"00-{TRACE}-00f067aa0ba902b7", None),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),
        (f"00-{TRACE.upper()}-00f067aa0ba902b7-01", None),
        ("00-0x" + TRACE[2:] + "-00f067aa0ba902b7-01", None),
    ],
)
def test_the_trace_id_is_read_from_a_well_formed_traceparent_only(
    traceparent: object, expected: str | None
) -> None:
    assert trace_id(traceparent) == expected


async def traced_ping(
    redis: RedisClient, settings: Settings, defer_by: float | None = None
) -> tuple[str, str]:
    """A ping enqueued inside a caller's span: its id, and the caller's trace id."""
    with tracing.span("caller", {}) as caller:
        assert caller is not None
        enqueued = await enqueue(redis, "ping", {}, settings=settings, defer_by=defer_by)
    return enqueued.job_id, f"{caller.get_span_context().trace_id:032x}"


async def test_a_view_keeps_its_trace_id_from_the_enqueue_to_the_end(
    traced: None, redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    job_id, expected = await traced_ping(redis, settings)
    waiting = await load_job(redis, job_id, {})
    assert waiting is not None and waiting.trace_id == expected
    await run_worker()
    done = await load_job(redis, job_id, {})
    assert done is not None and done.status is JobStatus.complete
    assert done.trace_id == expected


async def test_an_aborted_job_keeps_its_trace_id(
    traced: None, redis: RedisClient, settings: Settings
) -> None:
    job_id, expected = await traced_ping(redis, settings, defer_by=60)
    assert await abort(redis, job_id, settings) == "aborted"
    aborted = await load_job(redis, job_id, {})
    assert aborted is not None and aborted.status is JobStatus.aborted
    assert aborted.trace_id == expected


async def test_untraced_jobs_have_no_trace_id(
    redis: RedisClient, settings: Settings, run_worker: RunWorker
) -> None:
    job = await enqueue(redis, "ping", {}, settings=settings)
    await run_worker()
    done = await load_job(redis, job.job_id, {})
    assert done is not None and done.trace_id is None


@pytest.mark.parametrize(
    "template", ["jaeger:16686/trace/{trace_id}", "http://tempo/explore", "javascript:{trace_id}"]
)
def test_a_trace_url_template_is_a_web_address_with_the_id_in_it(template: str) -> None:
    with pytest.raises(ValueError, match="TRACE_URL_TEMPLATE"):
        Settings(trace_url_template=template)


async def test_the_dashboard_learns_the_template(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    assert Settings(trace_url_template="").trace_url_template is None
    answer = await client.get("/dashboard/config.json")
    assert answer.status_code == 200
    assert answer.json() == {"trace_url_template": None}
