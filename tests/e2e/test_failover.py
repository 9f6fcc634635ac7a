"""Acknowledged enqueues across a Redis failover (`tests.chaos.failover`): a primary, a
replica whose replication stream lags 150-250 ms, and a Sentinel, all on loopback; a web
process connected by Sentinel (`REDIS_SENTINELS`); a burst of 200 enqueues, the primary killed
right after it, the replica promoted.

Without `ENQUEUE_WAIT_REPLICAS` the acknowledged jobs the replica had not received are lost
(and the test insists some are: the failover has to bite for the other half to mean anything).
With `ENQUEUE_WAIT_REPLICAS=1` not one acknowledged job is lost."""

from pathlib import Path

import pytest

from jobs.testing.plugin import KitEnvironment
from tests.chaos.failover import burst_then_failover
from tests.support.report import report

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        KitEnvironment().test_redis_url is not None,
        reason="the failover runs a primary, a replica and a Sentinel of its own",
    ),
]


async def test_without_wait_a_failover_loses_acknowledged_enqueues(tmp_path: Path) -> None:
    figures = await burst_then_failover(tmp_path, wait_replicas=0)
    report("failover, ENQUEUE_WAIT_REPLICAS=0", **figures.row())
    assert figures.acknowledged == figures.sent
    assert figures.lost >= 1


async def test_with_wait_replicas_1_no_acknowledged_enqueue_is_lost(tmp_path: Path) -> None:
    figures = await burst_then_failover(tmp_path, wait_replicas=1)
    report("failover, ENQUEUE_WAIT_REPLICAS=1", **figures.row())
    assert figures.acknowledged >= figures.sent * 0.9
    assert figures.lost == 0, figures.lost_ids
