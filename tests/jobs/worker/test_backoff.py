"""Backoff between tries (`jobs.worker.backoff`): exponential ceiling, full jitter."""

import pytest

import jobs.worker.backoff
from jobs.worker.backoff import backoff_s
from tests.support.jitter import Ceiling


def test_backoff_ceiling_doubles_per_try_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs.worker.backoff, "random", Ceiling())
    assert [backoff_s(t, 0.5, 5.0) for t in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_backoff_is_full_jitter_over_the_whole_window() -> None:
    samples = [backoff_s(4, 1.0, 300.0) for _ in range(2000)]  # window [0, 8]
    assert all(0 <= s <= 8.0 for s in samples)
    # Full jitter, not "ceiling plus a little": draws reach both ends of the window.
    assert min(samples) < 0.8 and max(samples) > 7.2
    assert len(set(samples)) > 1900


def test_the_first_retry_waits_at_most_the_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs.worker.backoff, "random", Ceiling())
    # No try counted yet is treated as the first: never a window below the base.
    assert backoff_s(0, 0.5, 5.0) == backoff_s(1, 0.5, 5.0) == 0.5
    assert backoff_s(1, 10.0, 5.0) == 5.0  # the cap wins even over the base
