"""Heartbeats are dated by the server's clock: a worker whose own clock is minutes off is
listed like any other, and drops no other worker from the registry (found by the chaos
harness's clock-skew step, `tests/chaos`)."""

import time

import pytest

from jobs.layout import keys
from jobs.layout.connection import RedisClient
from jobs.worker import heartbeat

SKEW_S = 600


async def test_a_worker_clock_minutes_off_changes_nothing_in_the_worker_registry(
    redis: RedisClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = [keys.queue("arq:queue")]
    await heartbeat.beat(redis, "on-time", queue, 1.0, {"running": 0})
    real = time.time
    for name, skew in (("behind", -SKEW_S), ("ahead", SKEW_S)):
        monkeypatch.setattr(time, "time", lambda skew=skew: real() + skew)
        await heartbeat.beat(redis, name, queue, 1.0, {"running": 0})
    monkeypatch.setattr(time, "time", real)

    live = await heartbeat.live_workers(redis)
    assert set(live) == {"on-time", "behind", "ahead"}
    assert all(0 <= age < 5 for age in live.values()), live
