"""What the report tables read from a system's results and how they print a figure.

Shared by `bench.report`, `bench.report_scale_out` and `bench.targets`; imports nothing of
theirs, so those import each other in one direction only.
"""

from __future__ import annotations

from typing import Any

LABELS = {
    "ours": "ours",
    "arq_default": "ARQ defaults",
    "arq_tuned": "ARQ tuned",
    "saq": "SAQ",
    "taskiq": "taskiq",
}


def drain_figure(r: dict[str, Any], workers: str, field: str) -> float | None:
    """`field` of a system's drain with `workers` worker processes, None when absent."""
    value = r.get("drains", {}).get(workers, {}).get(field)
    return None if value is None else float(value)


# metric -> (label, getter, higher is better)
METRICS: dict[str, tuple[str, Any, bool]] = {
    "drain1": ("drain, 1 worker (jobs/s)", lambda r: drain_figure(r, "1", "jobs_per_s"), True),
    "drain2": ("drain, 2 workers (jobs/s)", lambda r: drain_figure(r, "2", "jobs_per_s"), True),
    "p50": ("pickup p50 (ms)", lambda r: r.get("latency", {}).get("p50_ms"), False),
    "p99": ("pickup p99 (ms)", lambda r: r.get("latency", {}).get("p99_ms"), False),
    "enqueue": (
        "enqueue from Python (jobs/s)",
        lambda r: drain_figure(r, "1", "enqueue_jobs_per_s"),
        True,
    ),
    "rss": ("worker peak RSS (MB)", lambda r: drain_figure(r, "1", "peak_rss_mb"), False),
    "cmds": ("Redis commands/job", lambda r: drain_figure(r, "1", "commands_per_job"), False),
}


def fmt(v: float | None) -> str:
    """Whole from 100 up (thousands separated), one decimal from 10, two below; — if missing."""
    if v is None:
        return "—"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def ratio_cell(ours: float | None, other: float | None) -> str:
    """`ours ÷ other` as a table cell, two decimals; — when either is missing or zero."""
    if not ours or not other:
        return "—"
    return f"{ours / other:.2f}×"
