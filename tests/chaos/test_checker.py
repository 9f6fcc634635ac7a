"""The checker finds each kind of violation in a history made to show it, and nothing in a
clean one: a checker that cannot fail proves nothing."""

from tests.chaos.checker import Violation, charged_to, check
from tests.chaos.history import Ack, FaultStep, Final, History, Refusal, Try

LEASE_MS = 2000


def token(worker: str, claim_ms: int) -> str:
    return f"{worker}|{claim_ms}|c{claim_ms}"


def done(job: str, t: Try, finished_ms: int, tries: int | None = None) -> Final:
    result = {"try_": t.try_, "lease_token": t.token, "worker": t.worker}
    return Final(job, "complete", tries or t.try_, result, finished_ms, t.name)


def clean() -> History:
    """Two jobs of one concurrency=1 key, one after the other; a rated pair far apart."""
    h = History(lease_ms=LEASE_MS, rate_interval_us=100_000)
    a = Try("A", "chaos_serial", 1, token("w1", 1000), 1001, 1200, group="k", seq=1)
    b = Try("B", "chaos_serial", 1, token("w2", 1300), 1301, 1500, group="k", seq=2)
    h.acks += [Ack("A", "serial", 900, group="k", seq=1), Ack("B", "serial", 950, "k", seq=2)]
    h.tries += [a, b]
    h.finals = {"A": done("A", a, 1210), "B": done("B", b, 1510)}
    h.finished_events = {"A": 1, "B": 1}
    return h


def checks(h: History) -> list[str]:
    return sorted({v.check for v in check(h)})


def test_a_clean_history_has_no_violation() -> None:
    assert check(clean()) == []


def test_an_acknowledged_job_not_complete_is_lost() -> None:
    h = clean()
    h.finals["B"] = Final("B", "missing")
    assert "lost" in checks(h)


def test_two_finished_events_or_a_claim_after_the_final_is_final_twice() -> None:
    h = clean()
    h.finished_events["A"] = 2
    assert checks(h) == ["final twice"]
    h = clean()
    h.tries.append(Try("A", "chaos_serial", 2, token("w3", 5000), 5001, 5100, "k", 1))
    assert "final twice" in checks(h)


def test_a_result_from_a_try_that_lost_its_lease_is_stale() -> None:
    h = clean()
    old = h.tries[0]
    # Try 2 claimed (the lease of try 1 had run out), yet the stored result is try 1's.
    h.tries.append(Try("A", "chaos_serial", 2, token("w3", 3100), 3101, 3300, "k", 1))
    h.finals["A"] = Final("A", "complete", 2, {"try_": 1, "lease_token": old.token}, 3400)
    assert "stale result" in checks(h)


def test_two_tries_at_once_inside_a_lease_overlap() -> None:
    h = clean()
    # B claimed while A still ran, 300 ms after A's claim: A's lease cannot have run out.
    h.tries[0].end_ms = 1400
    assert "overlap" in checks(h)
    # The same, a full lease later: the model allows it (A's worker was cut off).
    h = clean()
    h.tries[0].end_ms = 9000
    b = Try("B", "chaos_serial", 1, token("w2", 3000), 3001, 3200, group="k", seq=2)
    h.tries[1] = b
    h.finals["B"] = done("B", b, 3210)
    assert check(h) == []


def test_one_lease_token_run_twice_overlaps() -> None:
    h = clean()
    h.tries.append(Try("A", "chaos_serial", 1, h.tries[0].token, 1100, 1150, "k", 1))
    assert "overlap" in checks(h)


def test_a_later_job_of_a_key_first_claimed_first_breaks_order() -> None:
    h = clean()
    h.acks[0].seq, h.acks[1].seq = 2, 1
    assert checks(h) == ["order"]


def test_a_job_whose_first_try_never_started_is_not_judged_on_order() -> None:
    """From a 60 s run: a worker killed right after claiming seq 98 of key s1 left no trace
    of try 1 (only `tries=2` in its record); once its lease ran out, seq 99, held behind it,
    went first, and try 2 of seq 98 ran after. When try 1 was claimed is unknown: no verdict
    (the first version of the check reported it as order broken)."""
    h = History(lease_ms=LEASE_MS, rate_interval_us=100_000)
    h.acks += [Ack("S98", "serial", 22_230, "s1", 98), Ack("S99", "serial", 22_485, "s1", 99)]
    s99 = Try("S99", "chaos_serial", 1, token("w3", 31_705), 31_727, 31_851, "s1", 99)
    s98 = Try("S98", "chaos_serial", 2, token("w3", 47_543), 47_563, 47_850, "s1", 98)
    h.tries += [s99, s98]
    h.finals = {"S98": done("S98", s98, 47_856), "S99": done("S99", s99, 31_869)}
    assert check(h) == []
    # Had try 1 of seq 98 started after seq 99's, that is order broken.
    h.tries.append(Try("S98", "chaos_serial", 1, token("w1", 31_900), 31_910, 31_950, "s1", 98))
    assert "order" in checks(h)


def test_admissions_closer_than_the_rate_interval_break_the_limit() -> None:
    h = clean()
    for job, at_us in (("R1", 5_000_000), ("R2", 5_060_000)):
        t = Try(job, "chaos_rated", 1, token("w1", at_us // 1000), at_us // 1000, None, "r")
        t.admitted_us = at_us
        h.tries.append(t)
    assert checks(h) == ["rate"]
    h.tries[-1].admitted_us = 5_100_000
    assert check(h) == []


def test_a_workflow_node_claimed_before_its_parent_is_final() -> None:
    h = clean()
    c = Try("C", "chaos_work", 1, token("w1", 1205), 1206, 1300, parents="A=complete")
    h.tries.append(c)
    h.acks.append(Ack("C", "node", 1000, parents=["A"]))
    h.finals["C"] = done("C", c, 1310)
    assert checks(h) == ["workflow order"]  # A became final at 1210
    c.token = token("w1", 1215)
    h.finals["C"] = done("C", c, 1310)
    assert check(h) == []


def test_a_batch_callback_released_early_or_twice() -> None:
    h = clean()
    cb = Try("CB", "chaos_callback", 1, token("w1", 1600), 1601, 1700, total=2, final=2)
    h.tries.append(cb)
    h.acks.append(Ack("CB", "callback", 900, parents=["A", "B"]))
    h.finals["CB"] = done("CB", cb, 1710)
    assert check(h) == []
    h.tries.append(Try("CB", "chaos_callback", 1, token("w2", 4000), 4001, 4100, total=2, final=2))
    assert "batch callback" in checks(h)
    cb.final = 1
    assert "batch callback" in checks(h)


def test_a_refused_enqueue_written_anyway_or_a_500_is_reported() -> None:
    h = clean()
    h.refusals.append(Refusal("work", 1000, 503, "redis_out_of_memory", n=7))
    h.listed = {"X": {"name": "chaos_work", "input": {"n": 7}, "status": "complete"}}
    assert checks(h) == ["half-written"]
    h = clean()
    h.refusals.append(Refusal("work", 1000, 500, "internal"))
    h.refusals.append(Refusal("work", 1000, 503, "not JSON"))
    h.listed = {"Y": {"name": "chaos_work", "input": {"n": 8}, "status": "queued"}}
    assert checks(h) == ["bad refusal", "half-written"]


def test_a_refusal_of_another_kind_does_not_match_a_plain_job_by_its_number() -> None:
    """A serial enqueue refused for memory carries n=0, as do the fault steps' own plain jobs
    (`streams`): not the same job (a 300 s run reported four such "half-written" jobs)."""
    h = clean()
    h.refusals.append(Refusal("serial", 1000, 503, "redis_out_of_memory"))
    h.listed = {"X": {"name": "chaos_work", "input": {"n": 0}, "status": "complete"}}
    assert checks(h) == []


def test_a_violation_is_charged_to_the_fault_on_or_just_over() -> None:
    h = clean()
    h.faults = [FaultStep("sigstop", "w1", 1000, 6000), FaultStep("kill9", "w2", 20_000, 21_000)]
    assert charged_to(h, Violation("x", set(), 7000, "")) == "sigstop"
    assert charged_to(h, Violation("x", set(), 20_500, "")) == "kill9"
    assert charged_to(h, Violation("x", set(), 500, "")) == "none"


def test_what_a_fault_step_saw_break_is_a_violation() -> None:
    h = clean()
    step = FaultStep("clock_skew", "w9 (-600 s)", 1000, 6000)
    step.broken = ["live worker w9 missing from the registry"]
    h.faults = [step]
    assert checks(h) == ["fault effect"]
    assert charged_to(h, check(h)[0]) == "clock_skew"


def test_a_callback_run_by_a_stalled_try_after_its_final_is_reported() -> None:
    """The slice of the 600 s run that found it (fixed since: such a try no longer runs)."""
    h = clean()
    h.acks.append(Ack("CB", "callback", 51_242, parents=["A", "B"]))
    stale = Try("CB", "chaos_callback", 1, token("stopped", 51_507), 58_706, 58_726)
    owner = Try("CB", "chaos_callback", 2, token("w2", 53_513), 53_541, 53_565, total=2, final=2)
    h.tries += [stale, owner]
    h.finals["CB"] = done("CB", owner, 53_570)
    assert checks(h) == ["batch callback"]
    assert "released with 0 of 0 members final" in check(h)[0].detail
