"""The web's side of tracing: FastAPI's own telemetry (`FastAPI(telemetry=...)`) for the HTTP
request spans, on the tracer provider `jobs.tracing` installs from the standard environment.

Only traces: FastAPI's OTLP metrics and logs stay off (`/metrics` is Prometheus), and so does
its own environment set-up (`auto_configure`), so that one provider, built the same way in web
and worker, exports everything. Off (no `OTEL_EXPORTER_OTLP_ENDPOINT`), FastAPI is told so and
passes each request straight through.
"""

from collections.abc import MutableMapping
from typing import Any

from fastapi.telemetry import TelemetryConfig

from jobs import tracing

UNTRACED_PATHS = frozenset({"/health", "/ready", "/metrics"})
"""Probes and scrapes: a span each, every few seconds, would bury the requests that matter."""


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in UNTRACED_PATHS


def fastapi_telemetry() -> TelemetryConfig:
    """`FastAPI(telemetry=...)` for this process: tracing turned on from the environment."""
    on = tracing.configure_from_environment("web")
    return {
        "tracing": on,
        "metrics": False,
        "logs": False,
        "operation_spans": on,
        "auto_configure": False,
        "exclude": _untraced if on else None,
    }
