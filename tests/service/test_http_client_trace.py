"""The HTTP clients send their caller's trace context (`traceparent`), so the service's request
and the jobs it enqueues join the caller's trace; without a current span they send none."""

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from service.http_client import JobServiceClient, JobServiceError, SyncJobServiceClient

CALLER = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, False, TraceFlags(1))
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
NOT_FOUND = {"error": {"code": "job_type_not_found", "message": "no", "details": None}}


def recording() -> tuple[list[str | None], httpx.MockTransport]:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("traceparent"))
        return httpx.Response(404, json=NOT_FOUND)

    return seen, httpx.MockTransport(answer)


async def test_the_async_client_sends_the_current_span() -> None:
    seen, transport = recording()
    async with JobServiceClient("http://test", transport=transport) as jobs:
        with pytest.raises(JobServiceError):
            await jobs.enqueue("nope", {})
        with trace.use_span(NonRecordingSpan(CALLER)), pytest.raises(JobServiceError):
            await jobs.enqueue("nope", {})
    assert seen == [None, TRACEPARENT]


def test_the_sync_client_sends_the_current_span() -> None:
    seen, transport = recording()
    with SyncJobServiceClient("http://test", transport=transport) as jobs:
        with trace.use_span(NonRecordingSpan(CALLER)), pytest.raises(JobServiceError):
            jobs.enqueue("nope", {})
        with pytest.raises(JobServiceError):
            jobs.enqueue("nope", {})
    assert seen == [TRACEPARENT, None]
