"""JSON on the wire and in Redis (`jobs.layout.serialization`): what stock ARQ would pickle is
written as JSON, and a value JSON cannot hold exactly is refused, not rounded."""

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from jobs.declare.job_errors import JobFailed
from jobs.layout.serialization import NotSerializable, deserialize, serialize


class Point(BaseModel):
    x: int
    at: datetime


def test_models_datetimes_sets_and_tuples_become_json() -> None:
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    value = {"point": Point(x=1, at=at), "at": at, "tags": {"a"}, "pair": (1, "b")}
    assert deserialize(serialize(value)) == {
        "point": {"x": 1, "at": "2030-01-02T03:04:05Z"},
        "at": "2030-01-02T03:04:05+00:00",
        "tags": ["a"],
        "pair": [1, "b"],
    }


def test_an_exception_is_stored_as_its_error_record_not_pickled() -> None:
    stored = deserialize(serialize({"error": ValueError("bad input")}))
    assert stored == {"error": {"type": "ValueError", "message": "bad input", "retryable": True}}
    permanent = deserialize(serialize(JobFailed("gone")))
    assert permanent["type"] == "JobFailed" and permanent["retryable"] is False


@pytest.mark.parametrize("value", [2**64, {"n": -(2**70)}, object(), {1.5: "float key"}])
def test_a_value_json_cannot_hold_exactly_is_refused(value: object) -> None:
    with pytest.raises(NotSerializable):
        serialize(value)


def test_bytes_and_text_read_back_the_same() -> None:
    data = serialize({"message": "héllo", "n": 2**63 - 1})
    assert deserialize(data) == deserialize(data.decode()) == {"message": "héllo", "n": 2**63 - 1}
