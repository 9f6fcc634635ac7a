"""Turn results (latest.json's dict) into a chart and the results section of README.md."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from bench import report_scale_out
from bench.report_format import LABELS, METRICS, drain_figure, fmt, ratio_cell
from bench.systems import BASELINE, PEERS
from bench.targets import fast_worker_targets_table

START, END = "<!-- results:start -->", "<!-- results:end -->"


def exactly_once(r: dict[str, Any]) -> bool:
    if "skipped" in r:
        return True
    parts = [*r.get("drains", {}).values()]
    if "latency" in r:
        parts.append(r["latency"])
    return (
        bool(parts)
        and not r.get("errors")
        and all(p.get("done") == p.get("expected") and p.get("duplicates") == 0 for p in parts)
    )


def drains_ok(part: dict[str, Any]) -> bool:
    """Every drain of a part (`scale`) ran each job exactly once."""
    drains = list(part.get("drains", {}).values())
    return bool(drains) and all(
        d.get("done") == d.get("expected") and d.get("duplicates") == 0 for d in drains
    )


def part_exactly_once(results: dict[str, Any], part: str) -> bool:
    """False only when a `scale` or `cluster` drain lost or repeated a job."""
    r = results.get(part)
    if not r or "error" in r or "skipped" in r:
        return True
    if part == "scale":
        return drains_ok(r) and r.get("exactly_once_all_rounds", True)
    return drains_ok({"drains": {k: r[k] for k in ("single", "cluster") if k in r}})


def part_line(name: str, r: dict[str, Any]) -> str:
    """One line of progress for a part that measures ours alone (bulk, scale, cluster...)."""
    if "error" in r:
        return "ERROR " + r["error"].strip().splitlines()[-1]
    if "skipped" in r:
        return f"skipped: {r['skipped']}"
    if name == "bulk":
        return f"{fmt(r['jobs_per_s'])} jobs/s, {fmt(r['redis_cpu_us_per_job'])} µs Redis CPU/job"
    if name == "http_bulk":
        return ", ".join(
            f"{k} {fmt(r[k]['jobs_per_s'])} jobs/s ({r[k]['server_cpu_ms_per_job']:.3f} ms CPU/job)"
            for k in ("single", "bulk")
        )
    if name == "scale":
        return ", ".join(
            f"{k}w {fmt(d.get('jobs_per_s'))} jobs/s ({fmt(d.get('redis_cpu_drain_us_per_job'))}"
            " µs)"
            for k, d in r.get("drains", {}).items()
        ) + ("" if drains_ok(r) else "  [CHECK FAILED]")
    if name == "pure":
        return ", ".join(
            f"{level} {fmt(d.get('jobs_per_s'))} jobs/s, worker "
            f"{fmt(d.get('worker_cpu_us_per_job'))} µs/job"
            + ("" if d.get("exactly_once") else "  [CHECK FAILED]")
            for level, d in r.items()
        )
    if name == "server_busy":
        return ", ".join(
            f"{k} {fmt(r[k]['redis_cpu_us_per_job'])} µs/job "
            f"(server busy {r[k]['server_busy_share']:.0%})"
            for k in ("busy", "paced")
        )
    if name == "cluster":
        return ", ".join(
            f"{k} {fmt(r[k].get('jobs_per_s'))} jobs/s" for k in ("single", "cluster") if k in r
        ) + ("" if part_exactly_once({name: r}, name) else "  [CHECK FAILED]")
    return ""


def one_line(r: dict[str, Any]) -> str:
    if "skipped" in r:
        return f"skipped: {r['skipped']}"
    bits = [f"{METRICS[k][0]}={fmt(METRICS[k][1](r))}" for k in ("drain1", "drain2", "p50")]
    return ", ".join(bits) + ("" if exactly_once(r) else "  [CHECK FAILED]")


def _check(r: dict[str, Any]) -> str:
    if "skipped" in r:
        return "skipped"
    if exactly_once(r):
        return "✓"
    d = r.get("drains", {})
    bad = [
        f"{k}w: {v.get('done')}/{v.get('expected')} done, {v.get('duplicates')} dup"
        for k, v in d.items()
        if v.get("done") != v.get("expected") or v.get("duplicates")
    ]
    return "✗ " + "; ".join(bad or ["error, see latest.json"])


def table(results: dict[str, Any]) -> str:
    systems = results["systems"]
    keys = list(METRICS)
    lines = [
        "| system | " + " | ".join(METRICS[k][0] for k in keys) + " | exactly once |",
        "|---" * (len(keys) + 2) + "|",
    ]
    for name, r in systems.items():
        if "skipped" in r:
            lines.append(
                f"| {LABELS.get(name, name)} | "
                + " | ".join("—" for _ in keys)
                + f" | skipped: {r['skipped']} |"
            )
            continue
        cells = [fmt(METRICS[k][1](r)) for k in keys]
        lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + f" | {_check(r)} |")
    ours = systems.get("ours")
    if ours and "skipped" not in ours:
        lines += [
            "",
            "Ratios, ours ÷ other (throughput: higher is better; latency, RSS, "
            "commands: lower is better):",
            "",
            "| metric | vs ARQ tuned | vs best of SAQ/taskiq |",
            "|---|---|---|",
        ]
        for key in keys:
            label, get, higher = METRICS[key]
            peers = [(get(systems[p]), p) for p in PEERS if p in systems and get(systems[p])]
            best = (max if higher else min)(peers) if peers else (None, "")
            base = get(systems[BASELINE]) if BASELINE in systems else None
            peer_cell = (
                f"{ratio_cell(get(ours), best[0])} ({LABELS.get(best[1], best[1])})"
                if best[0]
                else "—"
            )
            lines.append(f"| {label} | {ratio_cell(get(ours), base)} | {peer_cell} |")
    return "\n".join(lines)


def http_table(http: dict[str, Any]) -> str:
    lines = [
        "| endpoint | requests/s | p50 (ms) | p99 (ms) | server CPU ms/request | statuses "
        "| server RSS (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, h in http.items():
        if not isinstance(h, dict):  # the paired CPU ratio, shown with the targets
            continue
        if "error" in h:
            lines.append(f"| {name} | error: {h['error']} | | | | | |")
            continue
        lines.append(
            f"| {name} | {fmt(h['req_per_s'])} | {fmt(h['p50_ms'])} | "
            f"{fmt(h['p99_ms'])} | {fmt(h.get('server_cpu_ms_per_req'))} | {h['status']} | "
            f"{fmt(h.get('server_rss_mb'))} |"
        )
    return "\n".join(lines)


def section(results: dict[str, Any]) -> str:
    m = results["machine"]
    parts = [
        f"Measured {m['date']} on {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
        f"{m['server']}, {m['os']}. N = {results['n']} no-op jobs per drain."
        + (
            f" A {m['cores']}-core machine: the load generator, the Redis servers and the "
            "workers share its CPU."
            if (m.get("cores") or 0) <= 4
            else ""
        ),
        "",
        table(results),
        "",
        "Fast-worker targets, in this run:",
        "",
        fast_worker_targets_table(results),
        "",
        "![chart](results/chart.png)",
    ]
    if results.get("http"):
        parts += [
            "",
            "Enqueue over HTTP (`POST /jobs/ping`, one uvicorn worker):",
            "",
            http_table(results["http"]),
        ]
    parts += report_scale_out.section(results)
    errors = [
        f"- {n}: {e.splitlines()[-1] if e.strip() else e}"
        for n, r in results["systems"].items()
        for e in r.get("errors", [])
    ]
    if errors:
        parts += ["", "Errors (full text in results/latest.json):", "", *errors]
    return "\n".join(parts)


def write_readme(results: dict[str, Any], readme: Path) -> None:
    text = readme.read_text() if readme.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in text:
        text += f"\n## Results\n\n{START}\n{END}\n"
    body = f"{START}\n{section(results)}\n{END}"
    readme.write_text(
        re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: body, text, flags=re.S)
    )


def chart(results: dict[str, Any], path: Path) -> None:
    # Only bench/.venv has matplotlib (the project's venv imports this module for the tables);
    # the backend must be chosen before pyplot is imported.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, r in results["systems"].items() if "skipped" not in r]
    labels = [LABELS.get(n, n) for n in names]
    rs = [results["systems"][n] for n in names]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    xs = range(len(names))
    for off, (w, color) in zip((-0.2, 0.2), (("1", "tab:blue"), ("2", "tab:orange")), strict=True):
        vals = [drain_figure(r, w, "jobs_per_s") or 0 for r in rs]
        bars = ax1.bar([x + off for x in xs], vals, 0.4, label=f"{w} worker(s)", color=color)
        ax1.bar_label(bars, fmt="%.0f", fontsize=7)
    ax1.set_xticks(list(xs), labels)
    ax1.set_ylabel("jobs/s")
    ax1.set_title(f"Drain throughput, {results['n']} no-op jobs")
    ax1.legend()
    for off, (q, color) in zip(
        (-0.2, 0.2), (("p50", "tab:green"), ("p99", "tab:red")), strict=True
    ):
        vals = [r.get("latency", {}).get(f"{q}_ms") or 0 for r in rs]
        bars = ax2.bar([x + off for x in xs], vals, 0.4, label=q, color=color)
        ax2.bar_label(bars, fmt="%.1f", fontsize=7)
    ax2.set_xticks(list(xs), labels)
    ax2.set_yscale("log")
    ax2.set_ylabel("ms (log scale)")
    ax2.set_title("Pickup latency, idle worker")
    ax2.legend()
    m = results["machine"]
    fig.suptitle(
        f"{m['cpu']} · {m['cores']} cores · Python {m['python']} · {m['server']}", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict[str, Any], chart_path: Path, readme: Path) -> None:
    chart(results, chart_path)
    write_readme(results, readme)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    data = json.loads(
        Path(sys.argv[1] if len(sys.argv) > 1 else here / "results/latest.json").read_text()
    )
    write(data, here / "results" / "chart.png", here / "README.md")
