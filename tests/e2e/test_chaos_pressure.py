"""Chaos under pressure: the harness (`tests/chaos`) through its three load faults, checked like
the minute of tests/e2e/test_chaos_history.py.

- `starved`: one worker gets 10 % of the CPU (stopped 90 % of every lease-long period): its
  heartbeats and lease renewals come late, some past the lease; another worker takes those
  jobs over, and no try of the starved one writes a result once its lease is gone.
- `memory_pressure`: one worker may map no more memory than it holds (`RLIMIT_AS`): the tries
  that need new pages fail for want of them and are tried again, elsewhere or later.
- `streams`: 1,000 event streams and long polls at once on the web process: those past its cap
  (`MAX_STREAMS_PER_PROCESS`, 200) get 503 `too_many_streams`, and a health check and an
  enqueue still answer while the cap is held (the step's own checks, charged as violations).
"""

from pathlib import Path

import pytest

from jobs.testing.plugin import KitEnvironment
from tests.chaos.run import report, run
from tests.support.report import report as figures

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.mark.skipif(
    KitEnvironment().test_redis_url is not None,
    reason="the harness runs a Valkey of its own",
)
async def test_starved_and_memory_bound_workers_and_a_thousand_streams_leave_no_violation(
    tmp_path: Path,
) -> None:
    outcome = await run(36, tmp_path, ["starved", "memory_pressure", "streams"])
    print(report(outcome))
    figures("chaos under pressure, 36 s", **outcome.figures)
    assert outcome.faults_missing == []
    streams = next(s for s in outcome.history.faults if s.name == "streams")
    assert streams.evidence["answers"].get("503 too_many_streams", 0) > 0
    assert outcome.history.tries, "no try recorded: the history is not being written"
    assert outcome.violations == []
