"""A real OTLP/HTTP trace receiver for tracing tests (stdlib `http.server` in a thread): it
decodes each `POST /v1/traces` body as an `ExportTraceServiceRequest` (protobuf, with
`opentelemetry-proto`) and keeps every span it got, flattened to what a test asserts on."""

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    """The `service.name` of the process that sent it."""
    name: str
    kind: int
    """`Span.SpanKind`: 2 server, 3 client, 4 producer, 5 consumer."""
    trace_id: str
    span_id: str
    parent_span_id: str
    """'' for a root."""
    attributes: dict[str, Any]
    events: list[str]
    status_code: int
    """`Status.StatusCode`: 0 unset, 1 ok, 2 error."""


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    return None if which is None else getattr(value, which)


@dataclass
class OtlpReceiver:
    port: int
    spans: list[ReceivedSpan] = field(default_factory=list)
    posts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        """`OTEL_EXPORTER_OTLP_ENDPOINT` for it (the exporter appends `/v1/traces`)."""
        return f"http://127.0.0.1:{self.port}"

    def received(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.spans)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [s for s in self.received() if s.trace_id == trace_id]

    def add(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        ReceivedSpan(
                            service=str(resource.get("service.name", "")),
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            events=[e.name for e in span.events],
                            status_code=span.status.code,
                        )
                    )
        with self.lock:
            self.posts += 1
            self.spans += found


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path == "/v1/traces":
            self.server.receiver.add(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
        else:
            answer = b""
            self.send_response(404)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: OtlpReceiver


@contextmanager
def otlp_receiver(port: int = 0) -> Iterator[OtlpReceiver]:
    """A receiver on a loopback port (a free one by default), stopped when the block ends."""
    server = _Server(("127.0.0.1", port), _Handler)
    receiver = OtlpReceiver(port=server.server_address[1])
    server.receiver = receiver
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
