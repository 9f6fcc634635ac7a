"""Cron schedules (`jobs.cron.schedules`): crontab lines read in their time zone, through
DST changes, with optional seconds; a bad line or zone fails when the schedule is declared."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs.cron.schedules import InvalidSchedule, Schedule


def test_crontab_lines_with_time_zones_and_dst() -> None:
    berlin = Schedule("ping", "30 2 * * *", tz="Europe/Berlin")
    # Spring forward (02:30 does not exist on 2026-03-29): runs when the gap ends, 03:00 CEST.
    spring = berlin.next_after(datetime(2026, 3, 28, 23, 0, tzinfo=UTC))
    assert spring == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # Fall back (02:30 happens twice on 2026-10-25): a fixed time runs once.
    first = berlin.next_after(datetime(2026, 10, 24, 22, 0, tzinfo=UTC))
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert berlin.next_after(first) == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)  # next day
    # An every-20-minutes schedule runs through the repeated hour too (elapsed time).
    every = Schedule("ping", "*/20 * * * *", tz="Europe/Berlin")
    tick, seen = datetime(2026, 10, 24, 23, 50, tzinfo=UTC), []
    for _ in range(7):
        tick = every.next_after(tick)
        seen.append(tick)
    assert [t - seen[0] for t in seen] == [timedelta(minutes=20 * n) for n in range(7)]
    # Seconds: an optional sixth field, last.
    fifteen = Schedule("ping", "* * * * * */15")
    assert fifteen.next_after(datetime(2030, 1, 1, tzinfo=UTC)).second == 15


@pytest.mark.parametrize(
    ("cron", "tz"), [("61 * * * *", "UTC"), ("* * *", "UTC"), ("* * * * *", "Mars/Base")]
)
def test_a_bad_expression_or_zone_fails_at_declaration(cron: str, tz: str) -> None:
    with pytest.raises(InvalidSchedule):
        Schedule("ping", cron, tz=tz)
