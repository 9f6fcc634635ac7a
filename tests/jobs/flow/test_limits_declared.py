"""Flow-control options are checked when a job is declared: a mistake stops the import with
a message naming the job, before anything runs or is registered."""

import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from jobs.declare.context import JobContext
from jobs.declare.registry import DECLARED, JobModuleError, import_job_module, job
from jobs.flow.limits import FlowDeclarationError, Rate


class Order(BaseModel):
    customer_id: str
    amount: int = 0


class Done(BaseModel):
    pass


def declare(name: str, **options: Any) -> None:
    async def flow_declaration_probe(ctx: JobContext, payload: Order) -> Done:
        return Done()

    job(name=name, **options)(flow_declaration_probe)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"rate_limit": "100"}, "rate_limit '100' is not 'COUNT/UNIT'"),
        ({"rate_limit": "100/minute"}, "is not 'COUNT/UNIT'"),
        ({"rate_limit": "0/s"}, "is not 'COUNT/UNIT'"),
        ({"rate_limit": "-5/s"}, "is not 'COUNT/UNIT'"),
        ({"rate_limit": "1.5/s"}, "is not 'COUNT/UNIT'"),
        ({"rate_limit": ""}, "is not 'COUNT/UNIT'"),
        ({"concurrency": 2, "concurrency_key": "customer"}, "concurrency_key='customer'"),
        ({"rate_limit": "5/s", "rate_key": "nope"}, "rate_key='nope' is not a field of Order"),
        ({"unique_for": 60, "unique_key": "who"}, "unique_key='who' is not a field"),
        ({"concurrency": 0}, "concurrency must be an integer >= 1"),
        ({"concurrency": True}, "concurrency must be an integer >= 1"),
        ({"concurrency_key": "customer_id"}, "concurrency_key needs concurrency=N"),
        ({"rate_key": "customer_id"}, "rate_key needs rate_limit"),
        ({"rate_limit": "5/s", "rate_burst": 0}, "rate_burst must be an integer >= 1"),
        ({"unique_for": 0}, "unique_for must be > 0"),
        ({"debounce": -1}, "debounce must be > 0"),
        ({"unique_key": "customer_id"}, "unique_key needs unique_for"),
        ({"expires": 0}, "expires must be > 0"),
    ],
)
def test_a_bad_flow_option_fails_at_declaration_naming_the_job(
    options: dict[str, Any], says: str
) -> None:
    with pytest.raises(FlowDeclarationError) as caught:
        declare("bad_flow_job", **options)
    message = str(caught.value)
    assert message.startswith("job 'bad_flow_job': "), message
    assert says in message, message
    assert "bad_flow_job" not in DECLARED


def test_a_key_that_is_not_a_field_lists_the_fields() -> None:
    with pytest.raises(FlowDeclarationError) as caught:
        declare("keyed_wrong", concurrency=1, concurrency_key="customer")
    assert "is not a field of Order (fields: customer_id, amount)" in str(caught.value)


def test_a_module_declaring_a_malformed_rate_does_not_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a worker or the web sees at start with such a module in `JOB_MODULES`."""
    (tmp_path / "bad_rate_jobs.py").write_text(
        "from pydantic import BaseModel\n"
        "from jobs.declare.registry import job\n\n"
        "class In(BaseModel):\n    x: int\n\n"
        "@job(rate_limit='ten per second')\n"
        "async def too_chatty(ctx, payload: In) -> In:\n    return payload\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(JobModuleError) as caught:
            import_job_module("bad_rate_jobs")
    finally:
        sys.modules.pop("bad_rate_jobs", None)
    assert isinstance(caught.value.__cause__, FlowDeclarationError)
    assert "'too_chatty'" in str(caught.value) and "ten per second" in str(caught.value)
    assert "too_chatty" not in DECLARED


@pytest.mark.parametrize(
    ("text", "count", "period_s", "interval_us"),
    [
        ("20/s", 20, 1, 50_000),
        ("100/m", 100, 60, 600_000),
        ("5/10s", 5, 10, 2_000_000),
        (" 1000 / h ", 1000, 3600, 3_600_000),
        ("1/d", 1, 86400, 86_400_000_000),
    ],
)
def test_rates_parse_to_their_spacing(
    text: str, count: int, period_s: int, interval_us: int
) -> None:
    rate = Rate.parse(text)
    assert (rate.count, rate.period_s, rate.interval_us) == (count, period_s, interval_us)


def test_good_options_declare_the_limits() -> None:
    name = "good_flow_job"
    try:
        declare(name, concurrency=2, concurrency_key="customer_id", rate_limit="5/s", expires=9)
        flow = DECLARED[name].flow
        assert (flow.concurrency, flow.concurrency_key, flow.rate_burst) == (2, "customer_id", 1)
        assert flow.rate == Rate(5, 1, "5/s") and flow.expires_s == 9
        assert flow.gates(name, {"customer_id": "c7"}) == {
            "c": f"c:{name}:c7",
            "n": 2,
            "r": f"r:{name}",
            "t": 200_000,
            "b": 1,
        }
        assert flow.pins_queue
    finally:
        DECLARED.pop(name, None)
