"""The README's scale-out tables: bulk enqueue, bulk HTTP, Redis cost per job, worker-process
scaling, the server busy vs paced, one server vs a cluster. Input: latest.json's dict."""

from __future__ import annotations

from typing import Any

from bench.report_format import LABELS, drain_figure, fmt, ratio_cell
from bench.systems import BASELINE, PEERS
from bench.targets import scale_out_targets_table

# metric -> (label, getter); all lower is better (server cost per job)
COST: dict[str, tuple[str, Any]] = {
    "cpu_enqueue": (
        "Redis CPU, enqueue (µs/job)",
        lambda r: drain_figure(r, "1", "redis_cpu_enqueue_us_per_job"),
    ),
    "cpu_drain": (
        "Redis CPU, claim+run+finish (µs/job)",
        lambda r: drain_figure(r, "1", "redis_cpu_drain_us_per_job"),
    ),
    "cpu_total": ("Redis CPU, total (µs/job)", lambda r: _sum(r)),
    "cmds_enqueue": (
        "Redis commands/job, enqueue",
        lambda r: drain_figure(r, "1", "enqueue_commands_per_job"),
    ),
    "cmds_drain": ("Redis commands/job, drain", lambda r: drain_figure(r, "1", "commands_per_job")),
    "kept": (
        "Redis memory kept (B/finished job)",
        lambda r: drain_figure(r, "1", "kept_bytes_per_job"),
    ),
    "kept_short": (
        "of which expiring within 60 s (B/job)",
        lambda r: drain_figure(r, "1", "kept_short_lived_bytes_per_job"),
    ),
}


def _sum(r: dict[str, Any]) -> float | None:
    a = drain_figure(r, "1", "redis_cpu_enqueue_us_per_job")
    b = drain_figure(r, "1", "redis_cpu_drain_us_per_job")
    return None if a is None or b is None else a + b


def _ok(d: dict[str, Any]) -> bool:
    return d.get("done") == d.get("expected") and d.get("duplicates") == 0


def cost_table(results: dict[str, Any]) -> str:
    systems = {n: r for n, r in results["systems"].items() if "skipped" not in r}
    keys = list(COST)
    lines = [
        "| system | " + " | ".join(COST[k][0] for k in keys) + " |",
        "|---" * (len(keys) + 1) + "|",
    ]
    for name, r in systems.items():
        cells = [fmt(COST[k][1](r)) for k in keys]
        lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + " |")
    ours = systems.get("ours")
    if ours:
        lines += ["", "| ours ÷ other (lower is better) | vs ARQ tuned | vs best of SAQ/taskiq |"]
        lines.append("|---|---|---|")
        for key in keys:
            if key == "kept_short":
                continue
            label, get = COST[key]
            peers = [(get(systems[p]), p) for p in PEERS if p in systems]
            peers = [(v, p) for v, p in peers if v is not None and v > 0]
            best = min(peers) if peers else None
            base = get(systems[BASELINE]) if BASELINE in systems else None
            peer = f"{ratio_cell(get(ours), best[0])} ({LABELS[best[1]]})" if best else "—"
            lines.append(f"| {label} | {ratio_cell(get(ours), base)} | {peer} |")
    return "\n".join(lines)


def enqueue_table(results: dict[str, Any]) -> str:
    ours = results["systems"].get("ours", {})
    bulk = results.get("bulk", {})
    lines = [
        "| ours, one producer | jobs/s | Redis CPU (µs/job) | Redis commands/job |",
        "|---|---|---|---|",
        f"| `enqueue()` one at a time | {fmt(drain_figure(ours, '1', 'enqueue_jobs_per_s'))} | "
        f"{fmt(drain_figure(ours, '1', 'redis_cpu_enqueue_us_per_job'))} | "
        f"{fmt(drain_figure(ours, '1', 'enqueue_commands_per_job'))} |",
    ]
    if "error" in bulk:
        lines.append(f"| `enqueue_many()` | error: {bulk['error'].splitlines()[-1]} | | |")
    elif bulk:
        lines.append(
            f"| `enqueue_many()`, {bulk['chunk']:.0f} per script call | "
            f"{fmt(bulk['jobs_per_s'])} | {fmt(bulk['redis_cpu_us_per_job'])} | "
            f"{fmt(bulk['commands_per_job'])} |"
        )
    single = drain_figure(ours, "1", "enqueue_jobs_per_s")
    arq = results["systems"].get(BASELINE)
    arq_rate = drain_figure(arq, "1", "enqueue_jobs_per_s") if arq else None
    if bulk.get("jobs_per_s"):
        lines += [
            "",
            f"`enqueue_many` ÷ `enqueue`: {ratio_cell(bulk['jobs_per_s'], single)}; "
            f"÷ ARQ tuned's `enqueue_job`: {ratio_cell(bulk['jobs_per_s'], arq_rate)} "
            f"(N = {bulk['n']:.0f} jobs, payloads built beforehand; median of "
            f"{bulk.get('repeat', 1):.0f} calls, best {fmt(bulk.get('jobs_per_s_max'))} jobs/s).",
        ]
    return "\n".join(lines)


def http_bulk_table(hb: dict[str, Any]) -> str:
    if "error" in hb:
        return f"HTTP bulk: error: {hb['error'].splitlines()[-1]}"
    lines = [
        "| one web process | jobs/s | requests/s | p50 (ms/request) | p99 (ms/request) "
        "| server CPU (ms/job) | clients |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in (("single", "`POST /jobs/ping`"), ("bulk", "`POST /jobs/ping/bulk`")):
        h = hb[key]
        if key == "bulk":
            label += f", {h['items_per_request']:.0f} items"
        lines.append(
            f"| {label} | {fmt(h['jobs_per_s'])} | {fmt(h['req_per_s'])} | "
            f"{fmt(h['p50_ms'])} | {fmt(h['p99_ms'])} | "
            f"{h['server_cpu_ms_per_job']:.3f} | {h['concurrency']:.0f} |"
        )
    single, bulk = hb["single"], hb["bulk"]
    lines += [
        "",
        f"Bulk ÷ single: {ratio_cell(bulk['jobs_per_s'], single['jobs_per_s'])} the jobs/s, "
        f"{ratio_cell(single['server_cpu_ms_per_job'], bulk['server_cpu_ms_per_job'])} less "
        "server CPU per job.",
    ]
    return "\n".join(lines)


def scale_table(sc: dict[str, Any]) -> str:
    if "error" in sc:
        return f"Scaling: error: {sc['error'].splitlines()[-1]}"
    drains = sc.get("drains", {})
    one = drains.get("1", {}).get("jobs_per_s")
    lines = [
        "| worker processes | drain (jobs/s) | × one process | Redis CPU, claim+run+finish "
        "(µs/job) | Redis commands/job | worker CPU (µs/job) | exactly once |",
        "|---|---|---|---|---|---|---|",
    ]
    for count, d in sorted(drains.items(), key=lambda kv: int(kv[0])):
        lines.append(
            f"| {count} | {fmt(d.get('jobs_per_s'))} | {ratio_cell(d.get('jobs_per_s'), one)} | "
            f"{fmt(d.get('redis_cpu_drain_us_per_job'))} | {fmt(d.get('commands_per_job'))} | "
            f"{fmt(d.get('worker_cpu_us_per_job'))} | {'✓' if _ok(d) else '✗'} |"
        )
    for e in sc.get("errors", []):
        lines.append(f"\nError: {e}")
    return "\n".join(lines)


def busy_table(sb: dict[str, Any]) -> str:
    rows = [
        "| calls | Redis CPU (µs/job) | Redis commands/job | server busy (share of wall time) "
        "| jobs/s through claim + finish |",
        "|---|---|---|---|---|",
    ]
    labels = {
        "busy": "back to back, {drivers:.0f} callers, {batch:.0f} jobs per call",
        "paced": "one caller, {pause_ms:.0f} ms between calls, {batch:.0f} jobs per call",
    }
    for key, label in labels.items():
        d = sb.get(key)
        if not d:
            continue
        rows.append(
            f"| {label.format(**d)} | {fmt(d['redis_cpu_us_per_job'])} | "
            f"{fmt(d['commands_per_job'])} | {d['server_busy_share']:.0%} | "
            f"{fmt(d['jobs_per_s'])} |"
        )
    return "\n".join(rows)


def cluster_table(cl: dict[str, Any]) -> str:
    if "skipped" in cl:
        return f"One server vs a cluster: skipped ({cl['skipped']})."
    if "error" in cl:
        return f"One server vs a cluster: error: {cl['error'].splitlines()[-1]}"
    lines = [
        "| setup | drain (jobs/s) | Redis CPU, claim+run+finish (µs/job, all primaries) "
        "| Redis commands/job | exactly once |",
        "|---|---|---|---|---|",
    ]
    for key, label in (("single", "one server"), ("cluster", "3-primary Valkey Cluster")):
        d = cl[key]
        lines.append(
            f"| {label} | {fmt(d.get('jobs_per_s'))} | {fmt(d.get('redis_cpu_us_per_job'))} | "
            f"{fmt(d.get('commands_per_job'))} | {'✓' if _ok(d) else '✗'} |"
        )
    ratio = ratio_cell(cl["cluster"].get("jobs_per_s"), cl["single"].get("jobs_per_s"))
    lines += ["", f"Cluster ÷ one server: {ratio} (bound by the worker processes on 2 cores)."]
    if cl.get("busy_single") and cl.get("busy_cluster"):
        lines += [
            "",
            "The same two setups driven by `bench.server_busy` (the worker's claim and finish "
            "scripts back to back over the 6 queues, 3 callers, no jobs run), Redis CPU per "
            "job:",
            "",
            "| setup | all servers (µs/job) | busiest server (µs/job) | Redis commands/job |",
            "|---|---|---|---|",
        ]
        for key, label in (("busy_single", "one server"), ("busy_cluster", "3 primaries")):
            d = cl[key]
            lines.append(
                f"| {label} | {fmt(d['redis_cpu_us_per_job'])} | "
                f"{fmt(d['busiest_server_cpu_us_per_job'])} | {fmt(d['commands_per_job'])} |"
            )
        lines += [
            "",
            f"With a core per server, what the servers could drain: 3 primaries ÷ one = "
            f"{cl['capacity_ratio']:.2f}× (one server's CPU per job ÷ the busiest primary's).",
        ]
    return "\n".join(lines)


def section(results: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    if "ours" in results["systems"] or "bulk" in results:
        parts += ["", "Enqueue from one Python producer:", "", enqueue_table(results)]
    if results.get("http_bulk"):
        parts += [
            "",
            "Bulk vs single enqueue over HTTP (one uvicorn worker, `service.main:app`):",
            "",
            http_bulk_table(results["http_bulk"]),
        ]
    if results["systems"]:
        parts += [
            "",
            "Queue server cost per no-op job (1-worker drain; CPU from `INFO cpu`, memory from "
            "`INFO memory`, each system with its default result retention):",
            "",
            cost_table(results),
        ]
        rt = results.get("round_trip")
        if rt:
            parts += [
                "",
                f"The floor on this machine: one sequential `PING` round trip costs the server "
                f"{rt['ping_round_trip_cpu_us']:.1f} µs of CPU ({rt['ping_pipelined_cpu_us']:.2f}"
                " µs pipelined), measured at the start of the run.",
            ]
    if results.get("scale"):
        sc = results["scale"]
        parts += [
            "",
            f"Worker-process scaling, ours ({sc.get('n', 0):.0f} no-op jobs enqueued in bulk "
            "first; on 2 cores the worker processes share them with the server, the tally "
            "server and the bench):",
            "",
            scale_table(sc),
        ]
    if results.get("server_busy") and "error" not in results["server_busy"]:
        parts += [
            "",
            "The queue server's cost per job when it is busy and when it idles between calls "
            "(`bench.server_busy`: the worker's own claim and finish scripts, no jobs run; "
            "20,000 jobs enqueued in bulk first):",
            "",
            busy_table(results["server_busy"]),
        ]
    if results.get("cluster"):
        cl = results["cluster"]
        head = "One server vs a 3-primary Valkey Cluster"
        if "single" in cl:
            head += (
                f" ({cl['n']:.0f} no-op jobs over {cl['queues']:.0f} queues, "
                f"{cl['workers']:.0f} worker processes serving all of them)"
            )
        parts += ["", head + ":", "", cluster_table(cl)]
    parts += ["", "Scale-out targets, in this run:", "", scale_out_targets_table(results)]
    return parts
