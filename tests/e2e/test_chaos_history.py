"""Chaos, checked: a 60-second run of the harness (`tests/chaos`, `make chaos` for a longer one)
through every scheduled fault, with zero violations in its recorded history.

Producers enqueue plain, `concurrency=1`, rate-limited jobs, workflows and batches over HTTP
while three workers (each behind a TCP proxy) and then a fourth with its clock 10 minutes off
live through a partition, added latency, a flapping link, SIGSTOP, kill -9, a Valkey restart
and memory full. Each fault step must show it happened (a silent heartbeat, a stopped process,
an exit code, refused writes...): a run whose faults did not bite proves nothing.
"""

from pathlib import Path

import pytest

from jobs.testing.plugin import KitEnvironment
from tests.chaos.faults import FAULTS as FAULTS_BY_NAME
from tests.chaos.run import report, run
from tests.support.report import report as figures

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(360)]

SECONDS = 60
FAULTS = [name for name in FAULTS_BY_NAME if name not in ("starved", "streams")]
"""Every fault but the CPU-starved worker and the 1,000 streams, which a run of their own
checks (tests/e2e/test_chaos_pressure.py): a minute still gives each of these one slot."""


@pytest.mark.skipif(
    KitEnvironment().test_redis_url is not None,
    reason="the harness runs a Valkey of its own (it restarts it and fills its memory): the "
    "run against TEST_REDIS_URL would repeat the embedded one",
)
async def test_a_minute_of_scheduled_faults_leaves_no_violation_in_the_history(
    tmp_path: Path,
) -> None:
    outcome = await run(SECONDS, tmp_path, FAULTS)
    print(report(outcome))
    figures("chaos history, 60 s", **outcome.figures)
    assert outcome.faults_missing == []
    assert outcome.figures["jobs_acknowledged"] > 500
    assert outcome.history.tries, "no try recorded: the history is not being written"
    assert outcome.violations == []
