"""Where each target of the fast-worker issue stands, computed from one run's results."""

from __future__ import annotations

from typing import Any

from bench.report import METRICS


def _get(results: dict[str, Any], system: str, metric: str) -> float | None:
    r = results["systems"].get(system)
    value = METRICS[metric][1](r) if r else None
    return float(value) if value is not None else None


def _row(target: str, measured: str, met: bool | None) -> str:
    mark = "n/a" if met is None else ("met" if met else "**missed**")
    return f"| {target} | {measured} | {mark} |"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets_table(results: dict[str, Any]) -> str:
    g = lambda system, metric: _get(results, system, metric)  # noqa: E731
    p50, p99 = g("ours", "p50"), g("ours", "p99")
    vs_tuned = _ratio(g("ours", "drain1"), g("arq_tuned", "drain1"))
    peers = [v for v in (g("saq", "drain1"), g("taskiq", "drain1")) if v is not None]
    vs_peer = _ratio(g("ours", "drain1"), max(peers) if peers else None)
    scaling = _ratio(g("ours", "drain2"), g("ours", "drain1"))
    cmds = g("ours", "cmds")
    stock_enqueue = [v for v in (g("arq_default", "enqueue"), g("arq_tuned", "enqueue")) if v]
    vs_enqueue = _ratio(g("ours", "enqueue"), max(stock_enqueue) if stock_enqueue else None)
    http = results.get("http") or {}
    ours_http, bare_http = http.get("ours", {}), http.get("bare_fastapi", {})
    http_ratio = _ratio(ours_http.get("req_per_s"), bare_http.get("req_per_s"))
    cpu_ratio = _ratio(
        bare_http.get("server_cpu_ms_per_req"), ours_http.get("server_cpu_ms_per_req")
    )

    def check(value: float | None, ok: Any) -> bool | None:
        return None if value is None else bool(ok(value))

    def fmt(value: float | None, spec: str) -> str:
        return "–" if value is None else format(value, spec)

    rows = [
        "| target | this run | |",
        "|---|---|---|",
        _row("pickup p50 ≤ 1.5 ms", fmt(p50, ".2f") + " ms", check(p50, lambda v: v <= 1.5)),
        _row("pickup p99 ≤ 5 ms", fmt(p99, ".2f") + " ms", check(p99, lambda v: v <= 5)),
        _row(
            "drain, 1 worker ≥ 2× ARQ tuned",
            fmt(vs_tuned, ".2f") + "×",
            check(vs_tuned, lambda v: v >= 2),
        ),
        _row(
            "drain, 1 worker ≥ 1.5× best of SAQ/taskiq",
            fmt(vs_peer, ".2f") + "×",
            check(vs_peer, lambda v: v >= 1.5),
        ),
        _row(
            "2 worker processes ≥ 1.6× one",
            fmt(scaling, ".2f") + "×",
            check(scaling, lambda v: v >= 1.6),
        ),
        _row("Redis commands per job ≤ 8", fmt(cmds, ".2f"), check(cmds, lambda v: v <= 8)),
        _row(
            "enqueue from Python ≥ 2× stock ARQ",
            fmt(vs_enqueue, ".2f") + "×",
            check(vs_enqueue, lambda v: v >= 2),
        ),
        _row(
            "`POST /jobs/{name}` ≥ 60 % of bare FastAPI (requests/s; server CPU in brackets)",
            f"{fmt(http_ratio and http_ratio * 100, '.0f')} % "
            f"({fmt(cpu_ratio and cpu_ratio * 100, '.0f')} %)",
            check(http_ratio, lambda v: v >= 0.6),
        ),
    ]
    return "\n".join(rows)
