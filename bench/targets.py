"""Where each fast-worker and scale-out target stands, computed from one run's results."""

from __future__ import annotations

from typing import Any

from bench.report_format import METRICS, drain_figure


def _get(results: dict[str, Any], system: str, metric: str) -> float | None:
    r = results["systems"].get(system)
    value = METRICS[metric][1](r) if r else None
    return float(value) if value is not None else None


def _row(target: str, measured: str, met: bool | None) -> str:
    mark = "n/a" if met is None else ("met" if met else "**missed**")
    return f"| {target} | {measured} | {mark} |"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fast_worker_targets_table(results: dict[str, Any]) -> str:
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


def scale_out_targets_table(results: dict[str, Any]) -> str:
    """The scale-out targets that one run of this harness can check."""

    def check(value: float | None, ok: Any) -> bool | None:
        return None if value is None else bool(ok(value))

    def fmt(value: float | None, spec: str) -> str:
        return "–" if value is None else format(value, spec)

    ours = results["systems"].get("ours") or {}
    bulk = results.get("bulk") or {}
    hb = results.get("http_bulk") or {}
    single, many = hb.get("single") or {}, hb.get("bulk") or {}
    http = results.get("http") or {}
    bulk_rate = bulk.get("jobs_per_s")
    http_ratio = _ratio(many.get("jobs_per_s"), single.get("jobs_per_s"))
    http_cpu = _ratio(single.get("server_cpu_ms_per_job"), many.get("server_cpu_ms_per_job"))
    enqueue_cpu = drain_figure(ours, "1", "redis_cpu_enqueue_us_per_job")
    drain_cpu = drain_figure(ours, "1", "redis_cpu_drain_us_per_job")
    cpu = enqueue_cpu + drain_cpu if enqueue_cpu is not None and drain_cpu is not None else None
    bulk_cpu = bulk.get("redis_cpu_us_per_job")
    cpu_bulk = bulk_cpu + drain_cpu if bulk_cpu is not None and drain_cpu is not None else None
    busy = (results.get("server_busy") or {}).get("busy") or {}
    busy_cpu = busy.get("redis_cpu_us_per_job")
    kept = drain_figure(ours, "1", "kept_bytes_per_job")
    short = drain_figure(ours, "1", "kept_short_lived_bytes_per_job")
    lasting = kept - short if kept is not None and short is not None else None
    drain1 = drain_figure(ours, "1", "jobs_per_s")
    worker_cpu = drain_figure(ours, "1", "worker_cpu_us_per_job")
    pure = (results.get("pure") or {}).get("INFO") or {}
    pure_rate, pure_cpu = pure.get("jobs_per_s"), pure.get("worker_cpu_us_per_job")
    pure_core = 1e6 / pure_cpu if pure_cpu else None
    quiet = (results.get("pure") or {}).get("WARNING") or {}
    p99 = (ours.get("latency") or {}).get("p99_ms")
    ping_cpu = http.get("server_cpu_ratio") or _ratio(  # paired per round, else of medians
        (http.get("ours") or {}).get("server_cpu_ms_per_req"),
        (http.get("bare_fastapi") or {}).get("server_cpu_ms_per_req"),
    )
    ping_rounds = "/".join(f"{r:.2f}" for r in http.get("server_cpu_ratio_rounds", []))
    cl = results.get("cluster") or {}
    cluster_ratio = _ratio(
        (cl.get("cluster") or {}).get("jobs_per_s"), (cl.get("single") or {}).get("jobs_per_s")
    )
    rows = [
        "| target | this run | |",
        "|---|---|---|",
        _row(
            "bulk enqueue from one Python producer ≥ 50,000 jobs/s",
            fmt(bulk_rate, ",.0f") + " jobs/s",
            check(bulk_rate, lambda v: v >= 50_000),
        ),
        _row(
            "`POST /jobs/{name}/bulk` ≥ 10× the jobs/s of single POSTs "
            "(server CPU/job in brackets)",
            f"{fmt(http_ratio, '.1f')}× ({fmt(http_cpu, '.1f')}× less)",
            check(http_ratio, lambda v: v >= 10),
        ),
        _row(
            "Redis CPU per no-op job ≤ 15 µs (claim + finish on a busy server, the condition of "
            "the 22–28 µs it was set against; in brackets: the 1-worker drain, where the server "
            "idles between calls, and with the enqueue added: `enqueue()` one at a time / "
            "`enqueue_many`)",
            f"{fmt(busy_cpu, '.1f')} µs ({fmt(drain_cpu, '.1f')} µs; {fmt(cpu, '.1f')} / "
            f"{fmt(cpu_bulk, '.1f')} µs)",
            check(busy_cpu, lambda v: v <= 15),
        ),
        _row(
            "Redis memory kept per finished no-op job ≤ 400 B (default retention, listing incl.;"
            " without keys expiring within 60 s in brackets)",
            f"{fmt(kept, '.0f')} B ({fmt(lasting, '.0f')} B)",
            check(kept, lambda v: v <= 400),
        ),
        _row(
            "one worker process ≥ 25,000 no-op jobs/s (jobs that do nothing, one worker, default "
            "`LOG_LEVEL=INFO`: two lines per job; in brackets its CPU per job and the jobs/s "
            "that allows on a core of its own, then at WARNING, then the tally job of the "
            "drains above, whose Redis round trip costs the worker more than the rest)",
            f"{fmt(pure_rate, ',.0f')} jobs/s ({fmt(pure_cpu, '.0f')} µs/job: ≤ "
            f"{fmt(pure_core, ',.0f')} jobs/s; WARNING {fmt(quiet.get('jobs_per_s'), ',.0f')} "
            f"jobs/s, {fmt(quiet.get('worker_cpu_us_per_job'), '.0f')} µs/job; tally job "
            f"{fmt(drain1, ',.0f')} jobs/s, {fmt(worker_cpu, '.0f')} µs/job)",
            check(pure_rate, lambda v: v >= 25_000),
        ),
        _row("idle pickup p99 ≤ 2 ms", fmt(p99, ".2f") + " ms", check(p99, lambda v: v <= 2)),
        _row(
            "server CPU of one `POST /jobs/ping` ≤ 2× a bare FastAPI 202 (median of the "
            "rounds' ratios; each round's in brackets)",
            fmt(ping_cpu, ".2f") + "×" + (f" ({ping_rounds})" if ping_rounds else ""),
            check(ping_cpu, lambda v: v <= 2),
        ),
        _row(
            "3 primaries ≥ 2.5× one (on ≥ 12 cores; not checkable on fewer: in brackets, the "
            "servers' own capacity with a core each, from their CPU per job when busy)",
            f"{fmt(cluster_ratio, '.2f')}× ({fmt(cl.get('capacity_ratio'), '.2f')}×)",
            None
            if (results["machine"].get("cores") or 0) < 12
            else check(cluster_ratio, lambda v: v >= 2.5),
        ),
    ]
    return "\n".join(rows)
