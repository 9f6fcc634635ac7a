"""The checker: what a recorded history (`tests.chaos.history`) must never show.

Each check returns violations; each violation names the jobs involved and the server time it
happened, so the report can print the history slice around it and charge it to the fault that
was on (or had just ended: a fault's effects outlive it by a lease or two).

Checked:
- lost: an acknowledged job that is not `complete` once the run has drained (or is gone);
- final twice: more than one `finished` event for a job, or a try claimed after its final;
- stale result: the stored result written by a try other than the job's last claim;
- overlap: two tries of one job, or of one `concurrency=1` key, running at once when the
  later claim came sooner than a lease after the earlier one (the only way the lease model
  lets them overlap is the earlier try's lease running out); one lease token run twice;
- order: within a `concurrency=1` key, first tries claimed out of enqueue order (a job whose
  try 1 never started, its worker killed right after the claim, is not judged);
- rate: two admissions of one rate key closer than the limit's interval (burst 1: GCRA's own
  µs, flow.lua's `admitted`);
- batch callback: claimed before every member was final, released with members not final, or
  one try number claimed under two lease tokens (released twice);
- workflow: a node claimed before all its parents were final, or told a parent did not
  complete when it did;
- memory full: an enqueue refused with `redis_out_of_memory` that was written anyway; a
  refusal without a JSON error body; a listed job never final (half-written);
- any 5xx answer but a 503;
- what a fault step saw break besides (a live worker missing from the registry while a
  worker's clock is off).

Not covered: a settle accepted after its own lease expired while no other try claimed the job
(renewal times are not recorded); `finished` events published while the harness's subscription
was down (Valkey restart); the rate limit with `rate_burst` > 1.
"""

import itertools
from collections import defaultdict
from dataclasses import dataclass

from tests.chaos.history import History, Try

GRACE_AFTER_FAULT_MS = 10_000
"""A violation this long after a fault ended is still charged to it (its effects run on: a
stalled worker's settle arrives later, a lease expires later)."""


@dataclass(slots=True)
class Violation:
    check: str
    jobs: set[str]
    at_ms: int
    detail: str


def check(history: History) -> list[Violation]:
    found: list[Violation] = []
    for each in CHECKS:
        found += each(history)
    return found


def _lost(h: History) -> list[Violation]:
    out: list[Violation] = []
    for ack in h.acks:
        final = h.finals.get(ack.job)
        if final is None or final.status != "complete":
            status = final.status if final else "never read"
            out.append(Violation("lost", {ack.job}, ack.at_ms, f"acknowledged, now {status}"))
    return out


def _final_twice(h: History) -> list[Violation]:
    out: list[Violation] = []
    for job, count in h.finished_events.items():
        if count > 1:
            at = (h.finals[job].finished_ms or 0) if job in h.finals else 0
            out.append(Violation("final twice", {job}, at, f"{count} finished events"))
    for t in h.tries:
        final = h.finals.get(t.job)
        if final and final.finished_ms is not None and t.claim_ms > final.finished_ms:
            out.append(
                Violation(
                    "final twice",
                    {t.job},
                    t.claim_ms,
                    f"try {t.try_} claimed at {t.claim_ms}, after its final at {final.finished_ms}",
                )
            )
    return out


def _stale_result(h: History) -> list[Violation]:
    out: list[Violation] = []
    for final in h.finals.values():
        if final.status != "complete" or not final.result:
            continue
        tries = h.tries_of(final.job)
        token = final.result.get("lease_token")
        if not tries:
            continue
        last = tries[-1]
        if token != last.token or final.result.get("try_") != final.tries:
            out.append(
                Violation(
                    "stale result",
                    {final.job},
                    final.finished_ms or last.claim_ms,
                    f"result of try {final.result.get('try_')} ({token}); last claim is try "
                    f"{last.try_} ({last.token}); the record counts {final.tries} tries",
                )
            )
    return out


def _overlaps(h: History, tries: list[Try], what: str) -> list[Violation]:
    out: list[Violation] = []
    tries = sorted(tries, key=lambda t: (t.claim_ms, t.start_ms))
    for a, b in itertools.combinations(tries, 2):
        if a.token == b.token and a.job == b.job:
            out.append(
                Violation("overlap", {a.job}, b.start_ms, f"lease token {a.token} ran twice")
            )
            continue
        ended = a.end_ms if a.end_ms is not None else float("inf")
        if b.claim_ms < ended and b.claim_ms - a.claim_ms < h.lease_ms:
            out.append(
                Violation(
                    "overlap",
                    {a.job, b.job},
                    b.claim_ms,
                    f"{what}: {b.job} try {b.try_} claimed {b.claim_ms - a.claim_ms} ms after "
                    f"{a.job} try {a.try_}, which was still running (lease {h.lease_ms} ms)",
                )
            )
    return out


def _overlap(h: History) -> list[Violation]:
    out: list[Violation] = []
    by_job: dict[str, list[Try]] = defaultdict(list)
    by_key: dict[str, list[Try]] = defaultdict(list)
    for t in h.tries:
        by_job[t.job].append(t)
        if t.name == "chaos_serial":
            by_key[t.group].append(t)
    for job, tries in by_job.items():
        out += _overlaps(h, tries, f"job {job}")
    for key, tries in by_key.items():
        # Tries of one job were checked above; here: different jobs of one key.
        out += [
            v
            for v in _overlaps(h, tries, f"concurrency=1 key {key}")
            if len(v.jobs) > 1 or "ran twice" not in v.detail
        ]
    return _unique(out)


def _unique(violations: list[Violation]) -> list[Violation]:
    seen: set[tuple[str, str]] = set()
    out: list[Violation] = []
    for v in violations:
        if (v.check, v.detail) not in seen:
            seen.add((v.check, v.detail))
            out.append(v)
    return out


def _order(h: History) -> list[Violation]:
    out: list[Violation] = []
    # A first try's claim is known only when try 1 recorded its start: a worker killed
    # between its claim and the job's first line leaves only try 2, claimed a lease later
    # (when the job may rightly follow jobs of its key enqueued meanwhile). Such jobs are
    # not judged.
    first_claim = {t.job: t.claim_ms for t in h.tries if t.try_ == 1}
    by_key: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for ack in h.acks:
        if ack.kind == "serial" and ack.job in first_claim:
            by_key[ack.group].append((ack.seq, ack.job))
    for key, jobs in by_key.items():
        jobs.sort()
        for (seq_a, a), (seq_b, b) in itertools.pairwise(jobs):
            if first_claim[b] < first_claim[a]:
                out.append(
                    Violation(
                        "order",
                        {a, b},
                        first_claim[b],
                        f"key {key}: seq {seq_b} first claimed before seq {seq_a}",
                    )
                )
    return out


def _rate(h: History) -> list[Violation]:
    out: list[Violation] = []
    by_key: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for t in h.tries:
        if t.name == "chaos_rated" and t.admitted_us is not None:
            by_key[t.group].add((t.admitted_us, t.job))
    for key, admissions in by_key.items():
        ordered = sorted(admissions)
        for (a_us, a), (b_us, b) in itertools.pairwise(ordered):
            if b_us - a_us < h.rate_interval_us:
                out.append(
                    Violation(
                        "rate",
                        {a, b},
                        b_us // 1000,
                        f"key {key}: admissions {b_us - a_us} µs apart "
                        f"(limit: {h.rate_interval_us} µs)",
                    )
                )
    return out


def _parents_final(h: History, child: str, parents: list[str], what: str) -> list[Violation]:
    out: list[Violation] = []
    tries = h.tries_of(child)
    if not tries:
        return out
    first = tries[0]
    for parent in parents:
        final = h.finals.get(parent)
        done = final.finished_ms if final else None
        if done is None or first.claim_ms < done:
            out.append(
                Violation(
                    what,
                    {child, parent},
                    first.claim_ms,
                    f"{child} claimed at {first.claim_ms}; {parent} final at {done}",
                )
            )
    return out


def _workflow(h: History) -> list[Violation]:
    out: list[Violation] = []
    for ack in h.acks:
        if ack.kind != "node" or not ack.parents:
            continue
        out += _parents_final(h, ack.job, ack.parents, "workflow order")
        for t in h.tries_of(ack.job):
            told = dict(p.split("=", 1) for p in t.parents.split())
            wrong = {p: s for p, s in told.items() if s != "complete"}
            if wrong or set(told) != set(ack.parents):
                out.append(
                    Violation("workflow order", {ack.job}, t.claim_ms, f"parents told {told}")
                )
    return out


def _batch(h: History) -> list[Violation]:
    out: list[Violation] = []
    for ack in h.acks:
        if ack.kind != "callback":
            continue
        out += _parents_final(h, ack.job, ack.parents, "batch callback")
        tries = h.tries_of(ack.job)
        for t in tries:
            if t.final != t.total or t.total != len(ack.parents):
                out.append(
                    Violation(
                        "batch callback",
                        {ack.job},
                        t.claim_ms,
                        f"released with {t.final} of {t.total} members final",
                    )
                )
        tokens: dict[int, set[str]] = defaultdict(set)
        for t in tries:
            tokens[t.try_].add(t.token)
        for number, seen in tokens.items():
            if len(seen) > 1:
                out.append(
                    Violation(
                        "batch callback",
                        {ack.job},
                        tries[0].claim_ms,
                        f"try {number} claimed under {len(seen)} lease tokens (released twice)",
                    )
                )
    return out


def _refusals(h: History) -> list[Violation]:
    out: list[Violation] = []
    # Plain jobs' numbers (the other kinds, and the fault steps' own jobs, carry n=0).
    refused_oom = {r.n for r in h.refusals if r.code == "redis_out_of_memory" and r.kind == "work"}
    for r in h.refusals:
        if (r.status >= 500 and r.status != 503) or (r.status and r.code == "not JSON"):
            out.append(Violation("bad refusal", set(), r.at_ms, f"{r.status} {r.body[:200]}"))
    for job, view in h.listed.items():
        n = (view.get("input") or {}).get("n")
        if n in refused_oom and view.get("name") == "chaos_work":
            out.append(
                Violation("half-written", {job}, 0, f"refused (out of memory) yet written: n={n}")
            )
        if view.get("status") not in ("complete", "failed", "aborted"):
            out.append(
                Violation("half-written", {job}, 0, f"still {view.get('status')} after the drain")
            )
    return out


def _fault_effects(h: History) -> list[Violation]:
    return [
        Violation("fault effect", set(), step.end_ms, f"{step.name}: {broken}")
        for step in h.faults
        for broken in step.broken
    ]


CHECKS = (
    _fault_effects,
    _lost,
    _final_twice,
    _stale_result,
    _overlap,
    _order,
    _rate,
    _workflow,
    _batch,
    _refusals,
)


def charged_to(h: History, violation: Violation) -> str:
    """The fault a violation is charged to: the latest one begun before it, if it was on or
    ended at most `GRACE_AFTER_FAULT_MS` earlier; else "none"."""
    best = "none"
    for step in sorted(h.faults, key=lambda s: s.start_ms):
        if step.start_ms <= violation.at_ms <= step.end_ms + GRACE_AFTER_FAULT_MS:
            best = step.name
    return best
