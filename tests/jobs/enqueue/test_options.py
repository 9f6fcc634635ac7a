"""`EnqueueOptions`: one value from the route and the clients down to the script row."""

from datetime import UTC, datetime, timedelta
from typing import get_type_hints

import pytest

from jobs.enqueue.options import NO_OPTIONS, EnqueueKwargs, EnqueueOptions
from jobs.enqueue.plan import MAX_DEFER_S, InvalidSchedule, plan
from jobs.layout import scripts
from jobs.layout.script_rows import ENQUEUE_ROW_WIDTH, EnqueueRow, HeldByEqual, row_answer
from settings import Settings


def test_the_keyword_form_lists_the_same_fields_with_the_same_types() -> None:
    assert get_type_hints(EnqueueKwargs) == get_type_hints(EnqueueOptions)


def test_options_come_as_a_value_or_as_keywords_not_both() -> None:
    assert EnqueueOptions.of(None, {}) is NO_OPTIONS
    assert EnqueueOptions.of(None, {"priority": 3}) == EnqueueOptions(priority=3)
    given = EnqueueOptions(queue="q")
    assert EnqueueOptions.of(given, {}) is given
    with pytest.raises(TypeError):
        EnqueueOptions.of(given, {"priority": 3})


def test_options_are_keyword_only_and_frozen() -> None:
    with pytest.raises(TypeError):
        EnqueueOptions("q")  # type: ignore[call-arg]
    with pytest.raises(AttributeError):
        NO_OPTIONS.priority = 1  # type: ignore[misc]


def test_query_params_name_only_what_differs_from_the_defaults() -> None:
    assert NO_OPTIONS.query_params() == {}
    at = datetime(2030, 1, 31, 9, tzinfo=UTC)
    options = EnqueueOptions(
        queue="emails",
        priority=5,
        defer_by=timedelta(minutes=1),
        expires_at=at,
        after=["a", "b"],
        on_parent_failure="ignore",
        callback_url="https://example.com/hook",
    )
    assert options.query_params() == {
        "queue": "emails",
        "priority": 5,
        "defer_by": 60.0,
        "expires_at": "2030-01-31T09:00:00+00:00",
        "after": ["a", "b"],
        "on_parent_failure": "ignore",
        "callback_url": "https://example.com/hook",
    }


def test_a_plan_writes_a_row_of_the_width_the_script_reads(settings: Settings) -> None:
    row = plan("ping", EnqueueOptions(priority=2, after=["p1"]), settings).row("id1", {})
    assert isinstance(row, EnqueueRow)
    assert len(row) == ENQUEUE_ROW_WIDTH
    assert (row.job_id, row.priority, row.after, row.on_parent_failure) == ("id1", 2, "p1", "fail")
    assert f"local W = {ENQUEUE_ROW_WIDTH} " in scripts.script("enqueue").source


def test_row_answers_are_typed() -> None:
    assert row_answer(1_700_000_000_000) == 1_700_000_000_000
    assert row_answer([b"unique", b"abc@q"]) == HeldByEqual("unique", "abc@q")
    assert row_answer([b"debounced", b"abc", 42]) == HeldByEqual("debounced", "abc", 42)


@pytest.mark.parametrize(
    "options",
    [
        EnqueueOptions(defer_until=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        EnqueueOptions(defer_until=datetime(9999, 12, 31)),  # naive: UTC
        EnqueueOptions(expires_at=datetime(9999, 12, 31, tzinfo=UTC)),
        EnqueueOptions(defer_by=MAX_DEFER_S + 1),
        EnqueueOptions(defer_by=timedelta(days=366)),
        EnqueueOptions(expires_in=timedelta(days=366)),
    ],
)
def test_a_plan_refuses_a_schedule_more_than_365_days_ahead(
    settings: Settings, options: EnqueueOptions
) -> None:
    with pytest.raises(InvalidSchedule, match="365 days") as refused:
        plan("ping", options, settings)
    assert isinstance(refused.value, ValueError)


def test_a_plan_takes_a_schedule_within_365_days(settings: Settings) -> None:
    soon = datetime.now(UTC) + timedelta(days=364)
    assert plan("ping", EnqueueOptions(defer_until=soon, expires_at=soon), settings).due_ms
    assert plan("ping", EnqueueOptions(defer_by=MAX_DEFER_S), settings).delay_ms
